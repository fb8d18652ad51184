package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

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

// Verify does what a member's Restore does, up to installing the data
// dir: it is run (by the EtcdRestore's verification Job, from the
// cluster's own server image, so with the members' etcd version) before
// an in-place restore stops a cluster's members. It checks the manifest
// when there is one (etcd version, key, encryption), then restores into
// scratch space under $TMPDIR (scratchRestore: size, checksum, etcd's
// appended hash, storage version, etcd's own restore), writing nothing
// else. $TMPDIR needs room for the snapshot twice.
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
	got, rev, err := scratchRestore(ctx, lg, fo, st)
	if err != nil {
		return VerifyResult{}, err
	}
	res.SHA256, res.Size, res.Revision = got.SHA256, got.Size, rev
	if m != nil {
		res.Revision, res.EtcdVersion, res.ClusterID = m.EtcdRevision, m.EtcdVersion, m.ClusterID
	}
	lg.Info("backup verified by a full restore into scratch space", zap.String("location", res.Location), zap.String("sha256", res.SHA256),
		zap.Bool("manifest", m != nil))
	return res, nil
}

// Scratch member of a verification's restore: etcd's restore needs a
// member and a cluster to write; nothing ever starts from it.
const (
	scratchMember = "verify"
	scratchPeer   = "http://127.0.0.1:2380"
)

// scratchRestore does what a member's restore does (Restore, steps 3 and
// 4), into a temporary dir under $TMPDIR that is removed before it
// returns: download and check size, SHA-256 and etcd's appended hash;
// read the storage version and revision recorded in the snapshot and
// refuse a newer storage version than this binary's etcd; run etcd's
// restore with the default revision bump. It returns what was fetched and
// the snapshot's revision. Errors name the step that failed.
func scratchRestore(ctx context.Context, lg *zap.Logger, fo fetchOptions, st Store) (fetched, int64, error) {
	work, err := os.MkdirTemp("", "quorum-verify-")
	if err != nil {
		return fetched{}, 0, fmt.Errorf("creating scratch space for the verification: %w", err)
	}
	defer os.RemoveAll(work)
	snapPath := filepath.Join(work, "snapshot.db")
	got, err := download(ctx, st, fo, snapPath)
	if err != nil {
		return fetched{}, 0, err
	}
	rev, _, err := inspectSnapshot(snapPath)
	if err != nil {
		return fetched{}, 0, fmt.Errorf("snapshot %s: %w", st.Location(fo.Key), err)
	}
	o := RestoreOptions{Name: scratchMember, InitialCluster: scratchMember + "=" + scratchPeer, InitialClusterToken: scratchMember,
		PeerURLs: []string{scratchPeer}, BumpRevision: DefaultBumpRevision, MarkCompacted: true, SkipHashCheck: fo.SkipHashCheck}
	if err := etcdRestore(lg, o, snapPath, filepath.Join(work, "data")); err != nil {
		return fetched{}, 0, fmt.Errorf("etcd restore of %s into scratch space: %w", st.Location(fo.Key), err)
	}
	return got, rev, nil
}
