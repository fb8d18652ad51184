package backup

import (
	"context"
	"errors"
	"io"

	"go.uber.org/zap"

	"quorum.dev/etcd-operator/internal/contract"
)

// VerifyResult is what a verification found; printed as JSON, it is the
// report the operator reads (contract.VerifyReport).
type VerifyResult = contract.VerifyReport

// Verify checks a backup the way Restore does before it touches a data
// dir (manifest, etcd version, key, size and checksum of the whole
// object), without writing anything: it is run before an in-place restore
// stops a cluster's members.
func Verify(ctx context.Context, lg *zap.Logger, key string, manifest *Manifest, encryptionKey []byte, st Store) (VerifyResult, error) {
	if err := ValidateKey(key); err != nil {
		return VerifyResult{}, err
	}
	if err := st.Check(ctx, false); err != nil {
		return VerifyResult{}, err
	}
	m, err := loadManifest(ctx, RestoreOptions{Key: key, Manifest: manifest}, st)
	if err != nil {
		return VerifyResult{}, err
	}
	if err := CheckVersion(m, BinaryEtcdVersion()); err != nil {
		return VerifyResult{}, err
	}
	if m.Encrypted && encryptionKey == nil {
		return VerifyResult{}, errors.New("the backup is encrypted: an encryption key file is required")
	}
	if err := fetch(ctx, st, key, encryptionKey, m, io.Discard); err != nil {
		return VerifyResult{}, err
	}
	lg.Info("backup verified", zap.String("location", st.Location(key)), zap.String("sha256", m.SHA256))
	return VerifyResult{
		Verified: true, Location: st.Location(key), SHA256: m.SHA256, Size: m.Size,
		Revision: m.EtcdRevision, EtcdVersion: m.EtcdVersion, ClusterID: m.ClusterID,
	}, nil
}
