package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrNotFound is wrapped by Store.Get when the object does not exist.
var ErrNotFound = errors.New("object does not exist")

// Store is where backups are kept: an S3 bucket or a directory.
type Store interface {
	// Check verifies, before any work, that the store can be used: the
	// bucket exists and the credentials are accepted, or the directory
	// exists and is writable (forWrite) or readable.
	Check(ctx context.Context, forWrite bool) error
	// Put stores r under key. size is the length of r, or -1 when unknown.
	// The object becomes visible only once complete: if r fails, nothing
	// is left under key (an earlier object under key stays as it was).
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object under key. A missing object is reported as an
	// error that says so.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Location names the object for humans and the manifest.
	Location(key string) string
}

// ValidateKey checks an object key: relative, clean, slash-separated, no
// "." or ".." elements, and not ending in the manifest suffix.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return errors.New("object key is empty")
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("object key %q must not start with /", key)
	case strings.HasSuffix(key, "/"):
		return fmt.Errorf("object key %q must not end with /", key)
	case strings.HasSuffix(key, ManifestSuffix):
		return fmt.Errorf("object key %q must not end with %s (that names the manifest)", key, ManifestSuffix)
	case len(key) > 900:
		return fmt.Errorf("object key is %d bytes long; at most 900", len(key))
	}
	for _, el := range strings.Split(key, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("object key %q has an empty, . or .. element", key)
		}
	}
	if path.Clean(key) != key {
		return fmt.Errorf("object key %q is not clean", key)
	}
	return nil
}

// DirStore keeps backups as files under a directory, usually a mounted
// PersistentVolumeClaim: <dir>/<key>.
type DirStore struct {
	Dir string
}

var _ Store = DirStore{}

// Location is file://<dir>/<key>.
func (d DirStore) Location(key string) string {
	return "file://" + filepath.Join(d.Dir, filepath.FromSlash(key))
}

// Check verifies that the directory exists and, for writing, that a file can
// be created in it.
func (d DirStore) Check(_ context.Context, forWrite bool) error {
	fi, err := os.Stat(d.Dir)
	if err != nil {
		return fmt.Errorf("backup directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("backup directory %s is not a directory", d.Dir)
	}
	if forWrite {
		f, err := os.CreateTemp(d.Dir, ".quorum-write-check-*")
		if err != nil {
			return fmt.Errorf("backup directory %s is not writable: %w", d.Dir, err)
		}
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	return nil
}

// Put writes r to a temporary file next to the target, syncs it and renames
// it into place.
func (d DirStore) Put(_ context.Context, key string, r io.Reader, _ int64) (err error) {
	target := filepath.Join(d.Dir, filepath.FromSlash(key))
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".part-*")
	if err != nil {
		return fmt.Errorf("creating temporary file for %s: %w", target, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = io.Copy(f, r); err != nil {
		return fmt.Errorf("writing %s: %w", target, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", target, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", target, err)
	}
	if err = os.Rename(f.Name(), target); err != nil {
		return fmt.Errorf("renaming into %s: %w", target, err)
	}
	return syncDir(dir)
}

// Get opens <dir>/<key>.
func (d DirStore) Get(_ context.Context, key string) (io.ReadCloser, error) {
	p := filepath.Join(d.Dir, filepath.FromSlash(key))
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("backup file %s: %w", p, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("opening backup file: %w", err)
	}
	return f, nil
}

// Remove deletes <dir>/<key>; a file already gone is not an error. The
// directory is synced so that the removal survives a crash.
func (d DirStore) Remove(_ context.Context, key string) error {
	p := filepath.Join(d.Dir, filepath.FromSlash(key))
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("backup file %s: %w", p, err)
	case fi.IsDir():
		return fmt.Errorf("backup file %s is a directory", p)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	return syncDir(filepath.Dir(p))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
