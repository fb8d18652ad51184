package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.uber.org/zap"

	"quorum.dev/etcd-operator/internal/contract"
)

// StaleDataMarker starts every message about a stale data dir: one that
// holds a member the cluster no longer knows.
const StaleDataMarker = "member data stale"

// ErrStaleData is returned when the data dir is stale and replacing it is
// turned off (Settings.KeepStaleData).
var ErrStaleData = errors.New(StaleDataMarker)

// StaleSuffix is appended to the data dir's path to move stale data aside.
const StaleSuffix = ".stale"

// DefaultStaleCheckTimeout bounds the member list asked for on a restart.
const DefaultStaleCheckTimeout = 5 * time.Second

// LocalMember is the identity recorded in a data dir's WAL.
type LocalMember struct {
	ID        uint64
	ClusterID uint64
}

// StaleReason decides whether the member in a data dir may restart. It
// returns "" when it may: nobody answered (view nil or without cluster ID),
// or the cluster ID is the same and the member ID is listed. Otherwise (ID
// not listed, or another cluster) it describes the mismatch.
func StaleReason(local LocalMember, view *ClusterView) string {
	if view == nil || view.ClusterID == 0 {
		return ""
	}
	if view.ClusterID == local.ClusterID {
		for _, m := range view.Members {
			if m.ID == local.ID {
				return ""
			}
		}
	}
	return fmt.Sprintf("member %s of cluster %s is not a member of cluster %s",
		types.ID(local.ID), types.ID(local.ClusterID), types.ID(view.ClusterID))
}

// planRestart restarts the member in the data dir unless the other members
// answer that it is not theirs. Then the data dir is moved to
// <data dir>.stale and the member joins as a new one (planJoin), or, with
// Settings.KeepStaleData, Plan fails with ErrStaleData.
//
// Data known to be corrupt (corruptEvidence: the member refused to start
// for it, or the CORRUPT alarm names it) moves to
// <data dir>.corrupt-<UTC time> instead, whatever KeepStaleData says, so
// that a person can inspect it; see corrupt.go.
func planRestart(ctx context.Context, lg *zap.Logger, s Settings) (Bootstrap, error) {
	reason, local, err := staleReason(ctx, lg, s)
	if err != nil {
		return Bootstrap{}, err
	}
	if reason == "" {
		lg.Info("data dir holds a member; restarting it", zap.String("data-dir", s.DataDir))
		return Bootstrap{Mode: ModeRestart}, nil
	}
	if why := corruptEvidence(lg, s.DataDir, local.ID); why != "" {
		moved, err := setAsideCorrupt(s.DataDir, time.Now())
		if err != nil {
			return Bootstrap{}, fmt.Errorf("%s; its data is corrupt (%s); setting the data dir aside: %w", reason, why, err)
		}
		msg := fmt.Sprintf("member data set aside: %s and its data is corrupt (%s); data moved to %s (kept for inspection, "+
			"never cleaned up automatically except by a newer corrupt copy), joining as a new member", reason, why, moved)
		lg.Warn(msg)
		writeTerminationLog(lg, s.TerminationLog, msg)
		b, err := planJoin(ctx, lg, s)
		if err != nil {
			return Bootstrap{}, fmt.Errorf("%s: %w", msg, err)
		}
		return b, nil
	}
	if s.KeepStaleData {
		return Bootstrap{}, fmt.Errorf("%w: %s; data dir %s left in place (%s=false)",
			ErrStaleData, reason, s.DataDir, EnvReplaceStaleData)
	}
	moved, err := moveAside(s.DataDir)
	if err != nil {
		return Bootstrap{}, fmt.Errorf("%w: %s; moving the data dir aside: %w", ErrStaleData, reason, err)
	}
	msg := fmt.Sprintf("%s: %s; data moved to %s, joining as a new member", StaleDataMarker, reason, moved)
	lg.Warn(msg)
	writeTerminationLog(lg, s.TerminationLog, msg)
	b, err := planJoin(ctx, lg, s)
	if err != nil {
		return Bootstrap{}, fmt.Errorf("%s: %w", msg, err)
	}
	return b, nil
}

// staleReason asks the other members (if any) and compares their answer
// with the WAL; see StaleReason. Without an answer it returns "". local is
// the member the data dir holds, when a reason is returned.
func staleReason(ctx context.Context, lg *zap.Logger, s Settings) (string, LocalMember, error) {
	if len(s.JoinEndpoints) == 0 {
		return "", LocalMember{}, nil
	}
	timeout := s.StaleCheckTimeout
	if timeout <= 0 {
		timeout = DefaultStaleCheckTimeout
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	view, err := listMembers(lctx, lg, s.JoinEndpoints, s.ServerTLS)
	cancel()
	if ctx.Err() != nil {
		return "", LocalMember{}, ctx.Err()
	}
	if err != nil {
		lg.Info("no member list from the other members; restarting without checking the data dir against it",
			zap.Duration("timeout", timeout), zap.Error(err))
		return "", LocalMember{}, nil
	}
	local, err := ReadLocalMember(lg, s.DataDir)
	if err != nil {
		lg.Warn("cannot read this member's IDs from its WAL; restarting without checking", zap.Error(err))
		return "", LocalMember{}, nil
	}
	reason := StaleReason(local, view)
	fields := []zap.Field{
		zap.String("data-dir", s.DataDir),
		zap.Stringer("local-member-id", types.ID(local.ID)),
		zap.Stringer("local-cluster-id", types.ID(local.ClusterID)),
		zap.Stringer("cluster-id", types.ID(view.ClusterID)),
		zap.Strings("members", describeMembers(view.Members)),
	}
	if reason == "" {
		lg.Info("the cluster lists this member", fields...)
		return "", LocalMember{}, nil
	}
	if m := memberByPeerURL(view.Members, s.AdvertisePeerURL); m != nil {
		fields = append(fields, zap.String("peer-url-listed-as", describeMembers([]*etcdserverpb.Member{m})[0]))
	}
	lg.Warn("the data dir holds a member the cluster does not know", append(fields, zap.String("reason", reason))...)
	return reason, local, nil
}

func memberByPeerURL(members []*etcdserverpb.Member, self url.URL) *etcdserverpb.Member {
	for _, m := range members {
		for _, raw := range m.PeerURLs {
			if u, err := url.Parse(raw); err == nil && sameURL(*u, self) {
				return m
			}
		}
	}
	return nil
}

func describeMembers(members []*etcdserverpb.Member) []string {
	out := make([]string, 0, len(members))
	for _, m := range members {
		name := m.Name
		if name == "" {
			name = "(not started)"
		}
		out = append(out, fmt.Sprintf("%s %s %v learner=%t", types.ID(m.ID), name, m.PeerURLs, m.IsLearner))
	}
	return out
}

// moveAside renames dataDir to dataDir+StaleSuffix, replacing an older
// copy there, and syncs the parent directory.
func moveAside(dataDir string) (string, error) {
	dir := filepath.Clean(dataDir)
	dst := dir + StaleSuffix
	if err := os.RemoveAll(dst); err != nil {
		return "", fmt.Errorf("removing the older copy %s: %w", dst, err)
	}
	if err := os.Rename(dir, dst); err != nil {
		return "", fmt.Errorf("renaming %s to %s: %w", dir, dst, err)
	}
	parent, err := os.Open(filepath.Dir(dir))
	if err != nil {
		return "", fmt.Errorf("opening %s to sync it: %w", filepath.Dir(dir), err)
	}
	defer parent.Close()
	if err := parent.Sync(); err != nil {
		return "", fmt.Errorf("syncing %s: %w", filepath.Dir(dir), err)
	}
	return dst, nil
}

// writeTerminationLog leaves msg where Kubernetes shows it as the
// container's termination message, if that file exists (path "" = off).
func writeTerminationLog(lg *zap.Logger, path, msg string) {
	if err := contract.WriteTerminationMessage(path, msg); err != nil {
		lg.Warn("writing the termination log", zap.String("path", path), zap.Error(err))
	}
}
