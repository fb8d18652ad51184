package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/server/v3/storage/mvcc"
	"go.etcd.io/etcd/server/v3/storage/schema"
)

// A restore accepts any etcd snapshot file: one Quorum made (an object
// with its <key>.manifest.json), or a file from `etcdctl snapshot save` /
// etcd's Maintenance.Snapshot without a manifest. Either way the raw file
// must carry etcd's own hash: the bbolt database, padded to whole 512-byte
// sectors, followed by the 32-byte SHA-256 of everything before it
// (etcdutl v3.7.3 snapshot.hasChecksum and copyAndVerifyDB use the same
// rule, and etcd's restore checks it again). A plain copy of a member's
// member/snap/db has no such hash and is refused unless SkipHashCheck is
// set, as etcdutl's --skip-hash-check does.

// sniffSize is how many leading bytes tell a raw snapshot from a gzip
// or zstd stream or a Quorum-encrypted object.
const sniffSize = 4

// fetched is what reading a snapshot object found.
type fetched struct {
	// SHA256 is the hex SHA-256 of the raw snapshot bytes.
	SHA256 string
	// Size is the number of raw snapshot bytes.
	Size int64
	// HashChecked tells whether etcd's appended hash was present and
	// matched (false only with SkipHashCheck and a file without one).
	HashChecked bool
}

// fetchOptions say how to read one snapshot object.
type fetchOptions struct {
	Key           string
	EncryptionKey []byte
	// Manifest is nil for a snapshot Quorum did not make.
	Manifest *Manifest
	// SkipHashCheck accepts a raw file without etcd's appended hash.
	SkipHashCheck bool
}

// errNoEtcdHash is wrapped when a snapshot has no etcd hash.
var errNoEtcdHash = errors.New("it has no etcd hash")

// fetch streams the raw snapshot of o.Key into w: decrypted and
// decompressed as its manifest says, or, without a manifest, as a raw etcd
// snapshot file. It checks size and SHA-256 against the manifest when
// there is one, and etcd's appended hash in every case.
func fetch(ctx context.Context, st Store, o fetchOptions, w io.Writer) (fetched, error) {
	rc, err := st.Get(ctx, o.Key)
	if err != nil {
		return fetched{}, err
	}
	defer rc.Close()
	m := o.Manifest
	var r io.Reader = rc
	switch {
	case m == nil:
		br := bufio.NewReader(rc)
		if err := checkRawSnapshot(br, st.Location(o.Key)); err != nil {
			return fetched{}, err
		}
		r = br
	default:
		if m.Encrypted {
			r = NewDecryptReader(r, o.EncryptionKey)
		}
		dr, err := decompressReader(m.Compression, r)
		if err != nil {
			return fetched{}, corrupt(err)
		}
		defer dr.Close()
		r = dr
		// Never read more than the manifest announces (plus one byte to
		// notice the excess).
		r = io.LimitReader(r, m.Size+1)
	}
	trailer := newTrailerCheck()
	n, err := io.Copy(io.MultiWriter(w, trailer), r)
	if err != nil {
		return fetched{}, corrupt(err)
	}
	_, full := trailer.sums()
	f := fetched{SHA256: hex.EncodeToString(full), Size: n}
	if m != nil {
		if n > m.Size {
			return fetched{}, fmt.Errorf("backup object is corrupt: it holds more than the %d snapshot bytes the manifest says", m.Size)
		}
		if n < m.Size {
			return fetched{}, fmt.Errorf("backup object is truncated or corrupt: %d snapshot bytes, the manifest says %d", n, m.Size)
		}
		if f.SHA256 != m.SHA256 {
			return fetched{}, fmt.Errorf("backup object is corrupt: checksum mismatch (sha256 %s, the manifest says %s)", f.SHA256, m.SHA256)
		}
	}
	if f.HashChecked, err = checkEtcdHash(trailer, n, o.SkipHashCheck); err != nil {
		return fetched{}, fmt.Errorf("snapshot %s: %w", st.Location(o.Key), err)
	}
	return f, nil
}

// checkEtcdHash applies etcd's rule to a snapshot of size bytes whose
// bytes went through t. A file of the shape etcd writes must match its
// hash; a file of another shape has none, which is refused unless skip.
// checked is true when the hash was there and matched.
func checkEtcdHash(t *trailerCheck, size int64, skip bool) (checked bool, err error) {
	if size%512 == sha256.Size && len(t.tail) == sha256.Size {
		if body, _ := t.sums(); !bytes.Equal(body, t.tail) {
			return false, errors.New("the snapshot is corrupt: it does not match etcd's own SHA-256 appended to it")
		}
		return true, nil
	}
	if skip {
		return false, nil
	}
	// What to do comes first: a pod's termination message is cut short in
	// conditions and events.
	return false, fmt.Errorf("%w, so it cannot be verified and is refused; if you trust it, restore it with skipHashCheck: true "+
		"(quorum-etcd restore --skip-hash-check). etcd appends a SHA-256 to every snapshot it sends and `etcdctl snapshot save` "+
		"keeps it; this file of %d bytes has none, like a copy of a member's member/snap/db", errNoEtcdHash, size)
}

// checkRawSnapshot refuses, by its first bytes, an object without a
// manifest that is not a raw etcd snapshot: a gzip or zstd stream or a
// Quorum-encrypted object can only be read with the manifest that says so.
func checkRawSnapshot(br *bufio.Reader, location string) error {
	head, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading %s: %w", location, err)
	}
	what := ""
	switch {
	case len(head) == 0:
		return fmt.Errorf("snapshot %s is empty", location)
	case bytes.HasPrefix(head, gzipMagic):
		what = "gzip-compressed"
	case bytes.HasPrefix(head, zstdMagic):
		what = "zstd-compressed"
	case bytes.HasPrefix(head, []byte(encMagic)):
		what = "encrypted by Quorum"
	default:
		return nil
	}
	return fmt.Errorf("snapshot %s has no manifest (%s) and is %s: a snapshot Quorum did not make must be the raw file "+
		"`etcdctl snapshot save` writes; restore a Quorum backup together with its manifest", location, location+ManifestSuffix, what)
}

func corrupt(err error) error {
	switch {
	case errors.Is(err, ErrDecrypt), errors.Is(err, errCorruptStream),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("backup object is corrupt or truncated: %w", err)
	}
	return fmt.Errorf("reading backup object: %w", err)
}

// inspectSnapshot opens the raw snapshot at path read-only, refuses one
// whose storage version (etcd's schema.ReadStorageVersionFromSnapshot) is
// newer than this binary's etcd, and returns its latest revision and its
// storage version ("" before etcd 3.6).
func inspectSnapshot(path string) (rev int64, storageVersion string, err error) {
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		return 0, "", fmt.Errorf("opening snapshot: the file is not an etcd snapshot (bbolt database): %w", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(schema.Meta.Name())
		keys := tx.Bucket(schema.Key.Name())
		if meta == nil || keys == nil {
			return errors.New("the snapshot is not an etcd v3 database")
		}
		if v := schema.ReadStorageVersionFromSnapshot(tx); v != nil {
			storageVersion = v.String()
			if err := CheckVersion(Manifest{StorageVersion: storageVersion}, BinaryEtcdVersion()); err != nil {
				return fmt.Errorf("snapshot content: %w", err)
			}
		}
		if k, _ := keys.Cursor().Last(); len(k) >= 17 {
			rev = mvcc.BytesToRev(k[:17]).Main
		}
		return nil
	})
	return rev, storageVersion, err
}
