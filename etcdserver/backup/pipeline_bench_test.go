package backup

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
)

// BenchmarkBackupRestore is the whole path on this machine without
// Kubernetes: a one-member etcd with mutual TLS (as Quorum's members)
// filled with
// benchSnapshotMiB of random 64 KiB values, as bench/backuprestore.go fills
// its cluster, backed up with each codec to a real MinIO on 127.0.0.1 and
// restored into a new data dir. It reports the backup's raw MB/s, the
// ratio, and the restore's seconds split into download (GET, decode,
// hash, write, fsync) and etcd's restore (etcdutl: copy, hash check,
// membership rewrite).
//
//	go test ./etcdserver/backup -run '^$' -bench BackupRestore -benchtime 1x
func BenchmarkBackupRestore(b *testing.B) {
	srv := s3test.Start(b)
	tlsDir := writeTLSDir(b)
	src := memberSettings(b, "src", tlsDir)
	cli := startMember(b, src)
	size := int64(benchSnapshotMiB()) << 20
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			val := make([]byte, 64<<10)
			for i := next.Add(1) - 1; i*int64(len(val)) < size; i = next.Add(1) - 1 {
				_, _ = rand.Read(val) // a new value each time: nothing to compress
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				if _, err := cli.Put(ctx, fmt.Sprintf("/fill/%07d", i), string(val)); err != nil {
					b.Error(err)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	st, err := NewS3Store(S3Config{Endpoint: srv.Endpoint, Insecure: true, Bucket: srv.NewBucket(b),
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	lg := zap.NewNop()
	for _, codec := range Compressions {
		b.Run(codec, func(b *testing.B) {
			var m Manifest
			var downloadTime, restoreTime time.Duration
			for i := 0; b.Loop(); i++ {
				key := fmt.Sprintf("%s-%d.db", codec, i)
				var err error
				m, err = Backup(context.Background(), lg, BackupOptions{Key: key, Compression: codec,
					Etcd: EtcdClient{Endpoints: []string{src.AdvertiseClientURL.String()}, TLS: tlsDir}}, st)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				dir := b.TempDir()
				start := time.Now()
				if _, err := download(context.Background(), st, fetchOptions{Key: key, Manifest: &m}, filepath.Join(dir, "snap")); err != nil {
					b.Fatal(err)
				}
				downloadTime += time.Since(start)
				start = time.Now()
				peer := src.AdvertisePeerURL
				if err := etcdRestore(lg, RestoreOptions{Name: "r", InitialCluster: "r=" + peer.String(), InitialClusterToken: "t",
					PeerURLs: []string{peer.String()}, BumpRevision: DefaultBumpRevision, MarkCompacted: true},
					filepath.Join(dir, "snap"), filepath.Join(dir, "data")); err != nil {
					b.Fatal(err)
				}
				restoreTime += time.Since(start)
				_ = os.RemoveAll(dir)
				b.StartTimer()
			}
			b.SetBytes(m.Size)
			b.ReportMetric(float64(m.Size)/float64(m.StoredSize), "ratio")
			b.ReportMetric(downloadTime.Seconds()/float64(b.N), "download-s")
			b.ReportMetric(restoreTime.Seconds()/float64(b.N), "etcdutl-s")
		})
	}
}
