//go:build etcd36

// The same for the previous-minor build (hack/etcd-3.6.mod, -tags etcd36):
// etcd 3.6 uses gogo protobuf types.

package server

import (
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/storage/datadir"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.uber.org/zap"
)

// ReadLocalMember reads the member and cluster ID from the WAL metadata of
// dataDir, read-only, from the latest snapshot recorded in the WAL (as
// etcdutl does).
func ReadLocalMember(lg *zap.Logger, dataDir string) (LocalMember, error) {
	walDir := datadir.ToWALDir(dataDir)
	snaps, err := wal.ValidSnapshotEntries(lg, walDir)
	if err != nil {
		return LocalMember{}, fmt.Errorf("reading snapshot entries of %s: %w", walDir, err)
	}
	snap := walpb.Snapshot{}
	if len(snaps) > 0 {
		snap = snaps[len(snaps)-1]
	}
	w, err := wal.OpenForRead(lg, walDir, snap)
	if err != nil {
		return LocalMember{}, fmt.Errorf("opening %s: %w", walDir, err)
	}
	defer w.Close()
	raw, _, _, err := w.ReadAll()
	if err != nil && !errors.Is(err, wal.ErrSnapshotNotFound) {
		return LocalMember{}, fmt.Errorf("reading %s: %w", walDir, err)
	}
	var md etcdserverpb.Metadata
	if err := md.Unmarshal(raw); err != nil {
		return LocalMember{}, fmt.Errorf("decoding the WAL metadata of %s: %w", walDir, err)
	}
	if md.NodeID == 0 || md.ClusterID == 0 {
		return LocalMember{}, fmt.Errorf("the WAL metadata of %s has no member or cluster ID", walDir)
	}
	return LocalMember{ID: md.NodeID, ClusterID: md.ClusterID}, nil
}
