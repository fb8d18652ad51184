package bench

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	Register(Bench{
		Name:        "disk",
		Doc:         "fsync latency and sequential bandwidth of the disk dir",
		Calibration: true,
		Run:         diskBench,
	})
}

// Limits of the fsync loop: whichever comes first.
const (
	fsyncTime = 3 * time.Second
	fsyncOps  = 5000
)

func diskBench(ctx context.Context, env Env) ([]Value, error) {
	dir, err := os.MkdirTemp(env.DiskDir, "bench-disk-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	lat, err := fsyncLatencies(ctx, filepath.Join(dir, "wal"))
	if err != nil {
		return nil, err
	}
	p50, p99 := Latencies(lat)
	env.Logf("disk: %d fsyncs", len(lat))
	w, r, err := bandwidth(filepath.Join(dir, "seq"), env.DiskMiB)
	if err != nil {
		return nil, err
	}
	return []Value{
		{"fsync: 4 KiB write+fdatasync p50", "ms", p50},
		{"fsync: 4 KiB write+fdatasync p99", "ms", p99},
		{"sequential write (with fsync)", "MiB/s", w},
		{"sequential read (page cache dropped)", "MiB/s", r},
	}, nil
}

// fsyncLatencies writes 4 KiB blocks one after the other into a
// preallocated file and fdatasyncs each, as etcd's WAL does.
func fsyncLatencies(ctx context.Context, path string) ([]time.Duration, error) {
	const size = 64 << 20
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		if err := f.Truncate(size); err != nil {
			return nil, err
		}
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i)
	}
	var lat []time.Duration
	deadline := time.Now().Add(fsyncTime)
	for off := int64(0); len(lat) < fsyncOps && time.Now().Before(deadline) && ctx.Err() == nil; off = (off + 4096) % size {
		start := time.Now()
		if _, err := f.WriteAt(buf, off); err != nil {
			return nil, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(start))
	}
	return lat, ctx.Err()
}

// bandwidth writes mib MiB in 1 MiB blocks and fsyncs, drops the file
// from the page cache and reads it back; both in MiB/s.
func bandwidth(path string, mib int) (write, read float64, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	start := time.Now()
	for range mib {
		if _, err := f.Write(buf); err != nil {
			return 0, 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, 0, err
	}
	write = float64(mib) / time.Since(start).Seconds()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return 0, 0, err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return 0, 0, err
	}
	start = time.Now()
	for {
		_, err := f.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, err
		}
	}
	read = float64(mib) / time.Since(start).Seconds()
	return write, read, nil
}
