package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/storage/datadir"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.uber.org/zap"

	"quorum.dev/etcd-operator/internal/contract"
)

// ErrNotAMember is returned when joining an existing cluster that does not
// list this member's peer URL. The operator must add the member first; the
// pod exits non-zero and kubelet retries later.
var ErrNotAMember = errors.New("the operator must add it first")

// ErrDataLost is returned when this member has run before (the cluster
// lists it under its name) but its data dir is empty: it must be removed
// and added again. The operator recognises the text in the pod's
// termination message.
var ErrDataLost = errors.New(DataLostMarker)

// DataLostMarker is the text of ErrDataLost.
const DataLostMarker = contract.DataLostMarker

// Plan decides how the member starts:
//
//  1. the data dir holds a member (member/wal has WAL files) → ModeRestart;
//     the initial-cluster settings are ignored; but if the other members
//     answer that this member is not theirs (removed, or another cluster),
//     the data dir is moved aside and the member joins as in 3 (see
//     planRestart);
//  2. ClusterState "new" → ModeNew with Settings.InitialCluster, which must
//     list this member with its advertised peer URL;
//  3. ClusterState "existing" → ModeJoin: ask the other members
//     (Settings.JoinEndpoints) for the member list, bounded by
//     Settings.MemberListTimeout, and build the initial cluster from it
//     (see JoinInitialCluster).
func Plan(ctx context.Context, lg *zap.Logger, s Settings) (Bootstrap, error) {
	if MemberInitialized(s.DataDir) {
		if forceNewClusterPending(s) {
			lg.Warn("starting as a new one-member cluster with this member's data (force-new-cluster)",
				zap.String("recovery", s.ForceNewCluster))
			return Bootstrap{Mode: ModeRestart, ForceNewCluster: true}, nil
		}
		return planRestart(ctx, lg, s)
	}
	switch s.ClusterState {
	case ClusterStateNew:
		if err := checkSelfListed(s); err != nil {
			return Bootstrap{}, err
		}
		lg.Info("bootstrapping a new cluster",
			zap.String("initial-cluster", FormatInitialCluster(s.InitialCluster)))
		return Bootstrap{Mode: ModeNew, InitialCluster: s.InitialCluster}, nil
	case ClusterStateExisting:
		return planJoin(ctx, lg, s)
	default:
		return Bootstrap{}, fmt.Errorf("unknown initial cluster state %q", s.ClusterState)
	}
}

func planJoin(ctx context.Context, lg *zap.Logger, s Settings) (Bootstrap, error) {
	if len(s.JoinEndpoints) == 0 {
		return Bootstrap{}, fmt.Errorf("joining an existing cluster: no other member to ask (set %s)", EnvInitialCluster)
	}
	peers, err := awaitMembership(ctx, lg, s)
	if err != nil {
		return Bootstrap{}, err
	}
	lg.Info("joining an existing cluster",
		zap.String("initial-cluster", FormatInitialCluster(peers)))
	return Bootstrap{Mode: ModeJoin, InitialCluster: peers}, nil
}

// MemberInitialized reports whether dataDir already holds a member, using
// the same test as etcd itself (WAL files in member/wal).
func MemberInitialized(dataDir string) bool {
	return wal.Exist(datadir.ToWALDir(dataDir))
}

func checkSelfListed(s Settings) error {
	for _, p := range s.InitialCluster {
		if p.Name != s.Name {
			continue
		}
		if !sameURL(p.URL, s.AdvertisePeerURL) {
			return fmt.Errorf("bootstrapping a new cluster: %s lists member %s with peer URL %s, but it advertises %s",
				EnvInitialCluster, s.Name, p.URL.String(), s.AdvertisePeerURL.String())
		}
		return nil
	}
	return fmt.Errorf("bootstrapping a new cluster: member %s is not listed in %s", s.Name, EnvInitialCluster)
}

// JoinInitialCluster builds the initial cluster for joining from the
// current member list. This member is found by its peer URL and named self.
// Other members are listed under their names.
//
// etcd checks that the initial cluster of a joining member has exactly as
// many members as the running cluster (membership.ValidateClusterAndAssignIDs),
// so an unstarted member other than this one (no name yet) makes the join
// impossible; that is reported as an error instead of etcd's "member count is
// unequal". A listed member that already has a name but no data here has
// lost its data; it is refused too, because rejoining under the same member
// ID with an empty log is unsafe.
func JoinInitialCluster(self string, selfURL url.URL, members []*etcdserverpb.Member) ([]Peer, error) {
	var (
		peers     []Peer
		found     bool
		unstarted []string
	)
	for _, m := range members {
		isSelf := false
		for _, raw := range m.PeerURLs {
			if u, err := url.Parse(raw); err == nil && sameURL(*u, selfURL) {
				isSelf = true
			}
		}
		switch {
		case isSelf && m.Name != "":
			return nil, fmt.Errorf("member %x with peer URL %s has already started as %q but the data dir is empty; "+
				"it must be removed and added again: %w", m.ID, selfURL.String(), m.Name, ErrDataLost)
		case isSelf:
			found = true
			ps, err := memberPeers(self, m)
			if err != nil {
				return nil, err
			}
			peers = append(peers, ps...)
		case m.Name == "":
			unstarted = append(unstarted, fmt.Sprintf("%x (%s)", m.ID, strings.Join(m.PeerURLs, ",")))
		default:
			ps, err := memberPeers(m.Name, m)
			if err != nil {
				return nil, err
			}
			peers = append(peers, ps...)
		}
	}
	if !found {
		return nil, fmt.Errorf("member %s with peer URL %s is not in the cluster; %w", self, selfURL.String(), ErrNotAMember)
	}
	if len(unstarted) > 0 {
		return nil, fmt.Errorf("member %s cannot join while other added members have not started: %s; "+
			"etcd requires the initial cluster to list every member", self, strings.Join(unstarted, ", "))
	}
	return peers, nil
}

func memberPeers(name string, m *etcdserverpb.Member) ([]Peer, error) {
	peers := make([]Peer, 0, len(m.PeerURLs))
	for _, raw := range m.PeerURLs {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("parsing peer URL %q of member %x: %w", raw, m.ID, err)
		}
		peers = append(peers, Peer{Name: name, URL: *u})
	}
	return peers, nil
}

// sameURL compares scheme and host:port, case-insensitively, ignoring a
// trailing slash.
func sameURL(a, b url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Host, b.Host) &&
		strings.TrimSuffix(a.Path, "/") == strings.TrimSuffix(b.Path, "/")
}

// Join waits: a member whose pod starts before the operator has added it
// (or before another new member has started) asks again for a while rather
// than exiting at once into a growing crash-loop back-off.
const joinInterval = 3 * time.Second

func awaitMembership(ctx context.Context, lg *zap.Logger, s Settings) ([]Peer, error) {
	deadline := time.Now().Add(s.JoinWait)
	for {
		lctx, cancel := context.WithTimeout(ctx, s.MemberListTimeout)
		view, err := listMembers(lctx, lg, s.JoinEndpoints, s.ServerTLS)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("joining an existing cluster: %w", err)
		}
		peers, err := JoinInitialCluster(s.Name, s.AdvertisePeerURL, view.Members)
		if err == nil || errors.Is(err, ErrDataLost) || time.Now().After(deadline) {
			return peers, err
		}
		lg.Info("not ready to join yet; asking again", zap.Error(err))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(joinInterval):
		}
	}
}
