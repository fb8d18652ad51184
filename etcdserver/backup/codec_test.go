package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func zstdBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// storeBackup encodes raw as a backup does into a DirStore under key and
// returns the manifest fetch needs.
func storeBackup(t *testing.T, st DirStore, key string, raw []byte, o BackupOptions) Manifest {
	t.Helper()
	var stored bytes.Buffer
	res, err := encode(&stored, bytes.NewReader(raw), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), key, &stored, -1); err != nil {
		t.Fatal(err)
	}
	m := Manifest{Format: ManifestFormat, SHA256: res.sha256, Size: res.size, StoredSize: res.stored,
		Compression: o.Compression, Encrypted: o.EncryptionKey != nil, CreatedAt: "2026-11-30T23:00:00Z"}
	if m.Encrypted {
		m.Encryption = EncryptionFormat
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCodecRoundTrip encodes a snapshot with every codec, with and without
// encryption, and reads it back as restore does: same bytes, same SHA-256,
// and the codec's magic bytes (or none) at the start of the stored data.
func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	st := DirStore{Dir: t.TempDir()}
	encKey := testKey(t)
	for _, data := range []string{"random", "objects"} {
		raw := fakeSnapshot(3<<20, map[string]func(*bytes.Buffer, *rand.Rand, int){"random": randomValues, "objects": kubeObjects}[data])
		for _, codec := range Compressions {
			for _, key := range [][]byte{nil, encKey} {
				name := data + "/" + codec
				if key != nil {
					name += "+aes"
				}
				t.Run(name, func(t *testing.T) {
					obj := strings.ReplaceAll(name, "+", "-")
					m := storeBackup(t, st, obj, raw, BackupOptions{Compression: codec, EncryptionKey: key})
					if data == "objects" && codec != CompressionNone && float64(m.Size)/float64(m.StoredSize) < 4 {
						t.Errorf("ratio %.2f on Kubernetes-like objects: not compressed?", float64(m.Size)/float64(m.StoredSize))
					}
					head := readHead(t, st, obj)
					wantMagic := map[string][]byte{CompressionGzip: gzipMagic, CompressionZstd: zstdMagic}[codec]
					switch {
					case key != nil && !bytes.HasPrefix(head, []byte(encMagic)):
						t.Errorf("stored object starts with %x, want the encryption header", head)
					case key == nil && wantMagic != nil && !bytes.HasPrefix(head, wantMagic):
						t.Errorf("stored object starts with %x, want %s's magic %x", head, codec, wantMagic)
					case key == nil && codec == CompressionNone && !bytes.Equal(head, raw[:len(head)]):
						t.Errorf("stored object is not the raw snapshot")
					}
					var out bytes.Buffer
					got, err := fetch(context.Background(), st, fetchOptions{Key: obj, EncryptionKey: key, Manifest: &m}, &out)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(out.Bytes(), raw) || got.SHA256 != m.SHA256 || !got.HashChecked {
						t.Errorf("read back %d bytes (sha %s, etcd hash checked %v), want the %d raw bytes (sha %s)",
							out.Len(), got.SHA256, got.HashChecked, len(raw), m.SHA256)
					}
				})
			}
		}
	}
}

func readHead(t *testing.T, st DirStore, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	return head
}

// TestOldGzipBackupRestores reads an object written as backups were before
// zstd: compress/gzip of the standard library, manifest compression gzip.
func TestOldGzipBackupRestores(t *testing.T) {
	t.Parallel()
	st := DirStore{Dir: t.TempDir()}
	raw := fakeSnapshot(1<<20, kubeObjects)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	writeFile(t, filepath.Join(st.Dir, "old.db.gz"), gz.Bytes())
	// The manifest line an older quorum-etcd wrote (the fields restore reads).
	line := `{"format":"quorum.dev/etcd-backup/v1","sha256":"` + sha256Hex(raw) + `","size":` + itoa(len(raw)) +
		`,"storedSize":` + itoa(gz.Len()) + `,"etcdRevision":5,"etcdRevisionMax":5,"clusterID":"1","memberID":"2",` +
		`"endpoint":"https://a:2379","etcdVersion":"3.6.5","compression":"gzip","encrypted":false,"createdAt":"2026-11-01T00:00:00Z",` +
		`"location":"file://x/old.db.gz"}`
	m, err := ParseManifest([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := fetch(context.Background(), st, fetchOptions{Key: "old.db.gz", Manifest: &m}, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), raw) {
		t.Error("the old gzip backup did not read back to its raw snapshot")
	}
}

// TestCodecDamage: a damaged or truncated compressed object is reported as
// corrupt, never read as a shorter snapshot.
func TestCodecDamage(t *testing.T) {
	t.Parallel()
	st := DirStore{Dir: t.TempDir()}
	raw := fakeSnapshot(2<<20, kubeObjects)
	for _, codec := range []string{CompressionZstd, CompressionGzip} {
		m := storeBackup(t, st, codec, raw, BackupOptions{Compression: codec})
		stored := readAll(t, st, codec)
		for name, b := range map[string][]byte{
			"truncated":   stored[:len(stored)/2],
			"flipped":     flip(stored, len(stored)/2),
			"no trailer":  stored[:len(stored)-4],
			"bad header":  flip(stored, 0),
			"extra bytes": append(bytes.Clone(stored), 0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3),
		} {
			t.Run(codec+"/"+name, func(t *testing.T) {
				key := codec + "-" + strings.ReplaceAll(name, " ", "-")
				writeFile(t, filepath.Join(st.Dir, key), b)
				_, err := fetch(context.Background(), st, fetchOptions{Key: key, Manifest: &m}, io.Discard)
				if err == nil {
					t.Fatal("a damaged object was read without error")
				}
				if !strings.Contains(err.Error(), "corrupt") {
					t.Errorf("error %q does not say the object is corrupt", err)
				}
			})
		}
	}
}

func TestDecompressReaderUnknown(t *testing.T) {
	if _, err := decompressReader("xz", bytes.NewReader(nil)); err == nil || !strings.Contains(err.Error(), `unknown compression "xz"`) {
		t.Errorf("error %v", err)
	}
	if _, err := compressWriter("xz", io.Discard); err == nil {
		t.Error("no error for an unknown codec")
	}
	if err := (BackupOptions{Etcd: EtcdClient{Endpoints: []string{"http://a:2379"}}, Key: "k", Compression: "xz"}).validate(); err == nil ||
		!strings.Contains(err.Error(), `compression must be one of zstd, gzip, none, got "xz"`) {
		t.Errorf("validate: %v", err)
	}
	// An error of the store underneath is not damage of the data.
	errStore := errors.New("connection reset by peer")
	r, err := decompressReader(CompressionZstd, io.MultiReader(bytes.NewReader(zstdMagic), iotestErr(errStore)))
	if err == nil {
		_, err = io.Copy(io.Discard, r)
	}
	if !errors.Is(err, errStore) || errors.Is(err, errCorruptStream) {
		t.Errorf("store error read as %v", err)
	}
}

func readAll(t *testing.T, st DirStore, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func itoa(n int) string { return strconv.Itoa(n) }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func iotestErr(err error) io.Reader { return errReader{err} }
