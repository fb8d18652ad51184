package bench

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
)

// minioHost is where MinIO listens for the backup bench: the host side of
// the local cluster node's veth, which pods reach.
func minioHost() string {
	if h := os.Getenv("BENCH_MINIO_HOST"); h != "" {
		return h
	}
	return "198.18.254.1"
}

// startMinio starts a real MinIO with s3test, which wants a testing.TB:
// tb is just enough of one. stop stops the server (by PID) and removes its
// state.
func startMinio(env Env) (srv *s3test.Server, bucket string, stop func(), err error) {
	tb := &benchTB{env: env}
	stop = tb.cleanup
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(tbFatal)
			if !ok {
				panic(r)
			}
			stop()
			srv, bucket, stop, err = nil, "", func() {}, fmt.Errorf("starting MinIO: %s", string(f))
		}
	}()
	srv = s3test.StartWith(tb, s3test.Options{Host: minioHost()})
	bucket = srv.NewBucket(tb)
	return srv, bucket, stop, nil
}

// benchTB implements the testing.TB methods s3test calls; Fatal panics
// with tbFatal, which startMinio recovers. Other methods are not
// implemented (the embedded nil interface panics).
type benchTB struct {
	testing.TB
	env      Env
	cleanups []func()
}

type tbFatal string

func (t *benchTB) Helper()                         {}
func (t *benchTB) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }
func (t *benchTB) Logf(format string, args ...any) { t.env.Logf("minio: "+format, args...) }
func (t *benchTB) Fatal(args ...any)               { panic(tbFatal(fmt.Sprint(args...))) }
func (t *benchTB) Fatalf(format string, args ...any) {
	panic(tbFatal(fmt.Sprintf(format, args...)))
}

// cleanup runs the cleanups, last first.
func (t *benchTB) cleanup() {
	for _, f := range slices.Backward(t.cleanups) {
		f()
	}
	t.cleanups = nil
}
