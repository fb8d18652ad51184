package backup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
)

// BenchmarkS3Put uploads a 256 MiB fake snapshot (random values, as the
// bench's) of unknown length to a real MinIO on 127.0.0.1 over http, as a
// backup does, with 1 (the old upload) to 8 parts in flight; BenchmarkS3Get
// downloads it. See codec_bench_test.go.
func BenchmarkS3Put(b *testing.B) {
	srv := s3test.Start(b)
	raw := benchData["random"]()
	for _, threads := range []int{1, 2, S3UploadThreads, 8} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			st := benchStore(b, srv)
			st.threads = threads
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				// Hide the length, as the encode pipe does.
				if err := st.Put(context.Background(), "b.db", struct{ io.Reader }{bytes.NewReader(raw)}, -1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkS3Get(b *testing.B) {
	srv := s3test.Start(b)
	raw := benchData["random"]()
	st := benchStore(b, srv)
	if err := st.Put(context.Background(), "b.db", bytes.NewReader(raw), int64(len(raw))); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		rc, err := st.Get(context.Background(), "b.db")
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(len(raw)) {
			b.Fatalf("read %d bytes (%v)", n, err)
		}
		_ = rc.Close()
	}
}

func benchStore(b *testing.B, srv *s3test.Server) *S3Store {
	st, err := NewS3Store(S3Config{Endpoint: srv.Endpoint, Insecure: true, Bucket: srv.NewBucket(b),
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	return st
}
