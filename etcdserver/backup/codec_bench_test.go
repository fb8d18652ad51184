package backup

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
)

// The benchmarks here measure where a backup's time goes on this machine,
// without etcd: the encode pipeline (hash, etcd trailer check, compression,
// encryption) and the S3 upload and download against a real MinIO
// (s3_bench_test.go). The data is a fake snapshot of benchSnapshotMiB
// (QUORUM_BENCH_MIB, 256 by default) with etcd's trailer, in two kinds:
//
//   - random: 64 KiB random values, what bench/backuprestore.go fills
//     the cluster with (nothing to compress);
//   - objects: JSON Kubernetes-like objects with random names, UIDs and
//     timestamps (what a Kubernetes etcd holds; compressible).
//
//	go test ./etcdserver/backup -run '^$' -bench Encode -benchtime 1x
//
// Each result reports MB/s of raw snapshot and the ratio raw/stored.

func benchSnapshotMiB() int {
	if n, err := strconv.Atoi(os.Getenv("QUORUM_BENCH_MIB")); err == nil && n > 0 {
		return n
	}
	return 256
}

var benchData = map[string]func() []byte{
	"random":  sync.OnceValue(func() []byte { return fakeSnapshot(benchSnapshotMiB()<<20, randomValues) }),
	"objects": sync.OnceValue(func() []byte { return fakeSnapshot(benchSnapshotMiB()<<20, kubeObjects) }),
}

// fakeSnapshot is size bytes of content from gen, padded to whole 512-byte
// sectors and followed by its SHA-256, as etcd streams a snapshot.
func fakeSnapshot(size int, gen func(*bytes.Buffer, *rand.Rand, int)) []byte {
	var buf bytes.Buffer
	buf.Grow(size + 1024)
	gen(&buf, rand.New(rand.NewPCG(1, 2)), size)
	buf.Truncate(size)
	if pad := buf.Len() % 512; pad != 0 {
		buf.Write(make([]byte, 512-pad))
	}
	sum := sha256.Sum256(buf.Bytes())
	buf.Write(sum[:])
	return buf.Bytes()
}

func randomValues(buf *bytes.Buffer, r *rand.Rand, size int) {
	v := make([]byte, 64<<10)
	for buf.Len() < size {
		for i := 0; i+8 <= len(v); i += 8 {
			u := r.Uint64()
			for j := range 8 {
				v[i+j] = byte(u >> (8 * j))
			}
		}
		fmt.Fprintf(buf, "/fill/%07d", buf.Len()/len(v))
		buf.Write(v)
	}
}

func kubeObjects(buf *bytes.Buffer, r *rand.Rand, size int) {
	kinds := []string{"pods", "configmaps", "secrets", "events", "leases", "endpointslices"}
	for i := 0; buf.Len() < size; i++ {
		kind := kinds[r.IntN(len(kinds))]
		fmt.Fprintf(buf, `/registry/%s/ns-%d/obj-%x{"apiVersion":"v1","kind":%q,"metadata":{"name":"obj-%x","namespace":"ns-%d",`+
			`"uid":"%08x-%04x-%04x-%04x-%012x","resourceVersion":"%d","creationTimestamp":"2026-11-%02dT%02d:%02d:%02dZ",`+
			`"labels":{"app":"app-%d","pod-template-hash":"%x"},"managedFields":[{"manager":"kubelet","operation":"Update",`+
			`"apiVersion":"v1","time":"2026-11-%02dT%02d:%02d:%02dZ","fieldsType":"FieldsV1"}]},"spec":{"containers":[{"name":"c",`+
			`"image":"registry.example/app-%d:v%d","resources":{"requests":{"cpu":"%dm","memory":"%dMi"}}}],"nodeName":"node-%d"},`+
			`"status":{"phase":"Running","podIP":"198.18.%d.%d","conditions":[{"type":"Ready","status":"True"}]},"data":"%x"}`,
			kind, r.IntN(50), r.Uint32(), kind, r.Uint32(), r.IntN(50),
			r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff, 1000000+i,
			1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(200), r.Uint32(),
			1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(200), r.IntN(9), 10*r.IntN(100), 16*r.IntN(64),
			r.IntN(20), r.IntN(256), r.IntN(256), r.Uint64())
	}
}

func BenchmarkEncode(b *testing.B) {
	key := make([]byte, encryptionKeySize)
	for _, data := range []string{"random", "objects"} {
		for _, codec := range Compressions {
			for _, enc := range []bool{false, true} {
				name := data + "/" + codec
				if enc {
					name += "+aes"
				}
				b.Run(name, func(b *testing.B) {
					raw := benchData[data]()
					o := BackupOptions{Compression: codec}
					if enc {
						o.EncryptionKey = key
					}
					b.SetBytes(int64(len(raw)))
					var res uploadResult
					for b.Loop() {
						var err error
						if res, err = encode(io.Discard, bytes.NewReader(raw), o); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(res.size)/float64(res.stored), "ratio")
				})
			}
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, data := range []string{"random", "objects"} {
		for _, codec := range Compressions {
			b.Run(data+"/"+codec, func(b *testing.B) {
				raw := benchData[data]()
				var stored bytes.Buffer
				if _, err := encode(&stored, bytes.NewReader(raw), BackupOptions{Compression: codec}); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(raw)))
				for b.Loop() {
					r, err := decompressReader(codec, bytes.NewReader(stored.Bytes()))
					if err != nil {
						b.Fatal(err)
					}
					if n, err := io.Copy(io.Discard, r); err != nil || n != int64(len(raw)) {
						b.Fatalf("decoded %d bytes (%v), want %d", n, err, len(raw))
					}
					_ = r.Close()
				}
			})
		}
	}
}

// BenchmarkEncodeStdlibGzip is the encode pipeline as it was before zstd
// (compress/gzip at its default level), kept as the reference the codec
// choice is measured against.
func BenchmarkEncodeStdlibGzip(b *testing.B) {
	for _, data := range []string{"random", "objects"} {
		b.Run(data, func(b *testing.B) {
			raw := benchData[data]()
			b.SetBytes(int64(len(raw)))
			var stored countWriter
			for b.Loop() {
				stored = countWriter{w: io.Discard}
				gz := gzip.NewWriter(&stored)
				sum, trailer := sha256.New(), newTrailerCheck()
				n, err := io.Copy(io.MultiWriter(gz, sum, trailer), bytes.NewReader(raw))
				if err != nil || trailer.verify(n) != nil || gz.Close() != nil {
					b.Fatal("encoding failed")
				}
			}
			b.ReportMetric(float64(len(raw))/float64(stored.n), "ratio")
		})
	}
}

func BenchmarkSHA256(b *testing.B) {
	raw := benchData["random"]()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		sha256.Sum256(raw)
	}
}
