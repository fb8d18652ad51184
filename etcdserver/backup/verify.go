package backup

import (
	"context"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"

	"quorum.dev/etcd-operator/internal/contract"
)

// VerifyResult is what a verification found; printed as JSON, it is the
// report the operator reads (contract.VerifyReport).
type VerifyResult = contract.VerifyReport

// VerifyOptions name the snapshot to verify.
type VerifyOptions struct {
	// Key is the object key; Manifest, when set, replaces the stored
	// <key>.manifest.json.
	Key      string
	Manifest *Manifest
	// EncryptionKey decrypts an encrypted backup.
	EncryptionKey []byte
	// SkipHashCheck accepts a raw snapshot without etcd's appended hash.
	SkipHashCheck bool
}

// Verify checks a backup the way Restore does before it touches a data
// dir: it is run before an in-place restore stops a cluster's members.
// With a manifest: the manifest, etcd version, key, size and checksum of
// the whole object and etcd's appended hash, writing nothing. Without one
// (a snapshot Quorum did not make): the file is copied to a temporary file
// under $TMPDIR (removed before returning) and checked with etcd's
// appended hash and the storage version and revision recorded in it.
func Verify(ctx context.Context, lg *zap.Logger, o VerifyOptions, st Store) (VerifyResult, error) {
	if err := ValidateKey(o.Key); err != nil {
		return VerifyResult{}, err
	}
	if err := st.Check(ctx, false); err != nil {
		return VerifyResult{}, err
	}
	m, err := loadManifest(ctx, o.Key, o.Manifest, o.EncryptionKey, st)
	if err != nil {
		return VerifyResult{}, err
	}
	fo := fetchOptions{Key: o.Key, EncryptionKey: o.EncryptionKey, Manifest: m, SkipHashCheck: o.SkipHashCheck}
	res := VerifyResult{Verified: true, Location: st.Location(o.Key)}
	if m != nil {
		got, err := fetch(ctx, st, fo, io.Discard)
		if err != nil {
			return VerifyResult{}, err
		}
		res.SHA256, res.Size, res.Revision, res.EtcdVersion, res.ClusterID = got.SHA256, got.Size, m.EtcdRevision, m.EtcdVersion, m.ClusterID
	} else {
		got, rev, err := verifyRaw(ctx, fo, st)
		if err != nil {
			return VerifyResult{}, err
		}
		res.SHA256, res.Size, res.Revision = got.SHA256, got.Size, rev
	}
	lg.Info("backup verified", zap.String("location", res.Location), zap.String("sha256", res.SHA256),
		zap.Bool("manifest", m != nil))
	return res, nil
}

// verifyRaw checks a snapshot without manifest through a temporary copy:
// bbolt needs a file to read the storage version and revision from.
func verifyRaw(ctx context.Context, fo fetchOptions, st Store) (fetched, int64, error) {
	f, err := os.CreateTemp("", "quorum-verify-*.db")
	if err != nil {
		return fetched{}, 0, fmt.Errorf("creating a temporary copy of the snapshot: %w", err)
	}
	defer os.Remove(f.Name())
	got, err := fetch(ctx, st, fo, f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing a temporary copy of the snapshot: %w", cerr)
	}
	if err != nil {
		return fetched{}, 0, err
	}
	rev, _, err := inspectSnapshot(f.Name())
	if err != nil {
		return fetched{}, 0, fmt.Errorf("snapshot %s: %w", st.Location(fo.Key), err)
	}
	return got, rev, nil
}
