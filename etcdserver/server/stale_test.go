package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/types"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

func TestStaleReason(t *testing.T) {
	t.Parallel()
	local := LocalMember{ID: 0xa1, ClusterID: 0xc1}
	m := func(id uint64, name string) *etcdserverpb.Member {
		return &etcdserverpb.Member{ID: id, Name: name, PeerURLs: []string{"http://" + name + ":2380"}}
	}
	learner := &etcdserverpb.Member{ID: 0xb3, PeerURLs: []string{"http://self:2380"}, IsLearner: true}
	tests := []struct {
		name string
		view *ClusterView
		want string
	}{
		{"no answer", nil, ""},
		{"answer without cluster ID", &ClusterView{Members: []*etcdserverpb.Member{m(0xb1, "b")}}, ""},
		{"same cluster, listed", &ClusterView{ClusterID: 0xc1, Members: []*etcdserverpb.Member{m(0xb1, "b"), m(0xa1, "self")}}, ""},
		{"same cluster, listed as learner", &ClusterView{ClusterID: 0xc1, Members: []*etcdserverpb.Member{m(0xb1, "b"),
			{ID: 0xa1, Name: "self", IsLearner: true}}}, ""},
		{"same cluster, removed", &ClusterView{ClusterID: 0xc1, Members: []*etcdserverpb.Member{m(0xb1, "b"), m(0xb2, "c")}},
			"member a1 of cluster c1 is not a member of cluster c1"},
		{"same cluster, peer URL re-added as a learner", &ClusterView{ClusterID: 0xc1, Members: []*etcdserverpb.Member{m(0xb1, "b"), learner}},
			"member a1 of cluster c1 is not a member of cluster c1"},
		{"other cluster", &ClusterView{ClusterID: 0xc2, Members: []*etcdserverpb.Member{m(0xb1, "b")}},
			"member a1 of cluster c1 is not a member of cluster c2"},
		{"other cluster listing the same member ID", &ClusterView{ClusterID: 0xc2, Members: []*etcdserverpb.Member{m(0xa1, "self")}},
			"member a1 of cluster c1 is not a member of cluster c2"},
	}
	for _, tc := range tests {
		if got := StaleReason(local, tc.view); got != tc.want {
			t.Errorf("%s: StaleReason = %q, want %q", tc.name, got, tc.want)
		}
	}

	absent := filepath.Join(t.TempDir(), "termination-log")
	writeTerminationLog(zap.NewNop(), absent, "x")
	if _, err := os.Stat(absent); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("writeTerminationLog created %s: %v", absent, err)
	}
}

// TestRestartRemovedMember: member C of three is stopped and removed, a
// learner is added with C's peer URL, and C starts again on its old data
// dir. It must find itself gone, move the data aside, join as that learner
// and, promoted, serve everything the cluster holds.
func TestRestartRemovedMember(t *testing.T) {
	t.Parallel()
	ss := localCluster(t, "gone", 3)
	ms := make([]*member, len(ss))
	for i, s := range ss {
		ms[i] = startMember(t, s)
	}
	for _, m := range ms {
		waitStatus(t, m, m.metricsURL("/readyz"), http.StatusOK)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	cli := newClient(t, "", ss[0].AdvertiseClientURL, ss[1].AdvertiseClientURL)
	if _, err := cli.Put(ctx, "before", "1"); err != nil {
		t.Fatalf("put: %v", err)
	}
	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatalf("member list: %v", err)
	}
	old := LocalMember{ID: memberID(t, list, ss[2].Name), ClusterID: list.Header.ClusterId}

	if err := ms[2].stop(t); err != nil {
		t.Fatalf("stopping C: %v", err)
	}
	removeMember(ctx, t, cli, old.ID)
	added := addLearner(ctx, t, cli, ss[2].AdvertisePeerURL.String())

	c := ss[2]
	c.ClusterState = ClusterStateExisting
	c.TerminationLog = emptyFile(t)
	c2 := startMember(t, c)
	waitStatus(t, c2, c2.metricsURL("/readyz?exclude=non_learner"), http.StatusOK)

	stale := c.DataDir + StaleSuffix
	if got, err := ReadLocalMember(zap.NewNop(), stale); err != nil || got != old {
		t.Errorf("ReadLocalMember(%s) = %+v, %v; want %+v", stale, got, err, old)
	}
	wantMsg := fmt.Sprintf("member data stale: member %s of cluster %s is not a member of cluster %s; data moved to %s, joining as a new member",
		types.ID(old.ID), types.ID(old.ClusterID), types.ID(old.ClusterID), stale)
	if got := readFile(t, c.TerminationLog); got != wantMsg {
		t.Errorf("termination log = %q, want %q", got, wantMsg)
	}

	promote(ctx, t, cli, added.Member.ID)
	waitStatus(t, c2, c2.metricsURL("/readyz"), http.StatusOK)
	list, err = cli.MemberList(ctx)
	if err != nil {
		t.Fatalf("member list: %v", err)
	}
	if id := memberID(t, list, c.Name); id != added.Member.ID || len(list.Members) != 3 {
		t.Errorf("C is member %x of %d, want %x of 3", id, len(list.Members), added.Member.ID)
	}
	onC := newClient(t, "", c.AdvertiseClientURL)
	if resp, err := onC.Get(ctx, "before"); err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "1" {
		t.Fatalf("get through C: %v %v", resp, err)
	}
	var eps []string
	for _, s := range ss {
		eps = append(eps, s.AdvertiseClientURL.String())
	}
	sameRevisionAndHash(ctx, t, cli, eps...)
}

// TestRestartForeignDataDir: B's data dir holds a member of another
// cluster. With replacing turned off Run fails and leaves it alone; with it
// on (the default) the data moves aside, replacing an older copy, and B
// joins A's cluster as the learner A added for it.
func TestRestartForeignDataDir(t *testing.T) {
	t.Parallel()
	a := startMember(t, localSettings(t, "home-0", ""))
	away := startMember(t, localSettings(t, "away-0", ""))
	waitStatus(t, a, a.metricsURL("/readyz"), http.StatusOK)
	waitStatus(t, away, away.metricsURL("/readyz"), http.StatusOK)
	if err := away.stop(t); err != nil {
		t.Fatalf("stopping the other cluster: %v", err)
	}
	foreign, err := ReadLocalMember(zap.NewNop(), away.s.DataDir)
	if err != nil {
		t.Fatalf("ReadLocalMember: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	cli := newClient(t, "", a.s.AdvertiseClientURL)
	bs := localSettings(t, "home-1", "")
	bs.ClusterState = ClusterStateExisting
	bs.JoinEndpoints = []string{a.s.AdvertiseClientURL.String()}
	bs.TerminationLog = emptyFile(t)
	if err := os.Rename(away.s.DataDir, bs.DataDir); err != nil {
		t.Fatalf("placing the foreign data dir: %v", err)
	}
	added, err := cli.MemberAddAsLearner(ctx, []string{bs.AdvertisePeerURL.String()})
	if err != nil {
		t.Fatalf("adding B: %v", err)
	}
	reason := fmt.Sprintf("member data stale: member %s of cluster %s is not a member of cluster %s",
		types.ID(foreign.ID), types.ID(foreign.ClusterID), types.ID(added.Header.ClusterId))

	off := bs
	off.KeepStaleData = true
	err = Run(ctx, zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)), off)
	if !errors.Is(err, ErrStaleData) || !strings.Contains(err.Error(), reason) {
		t.Fatalf("Run with replacing off = %v, want ErrStaleData with %q", err, reason)
	}
	if got, err := ReadLocalMember(zap.NewNop(), bs.DataDir); err != nil || got != foreign {
		t.Errorf("data dir after refusal: %+v, %v; want %+v untouched", got, err, foreign)
	}
	stale := bs.DataDir + StaleSuffix
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists after refusal: %v", stale, err)
	}

	if err := os.MkdirAll(filepath.Join(stale, "older"), 0o700); err != nil {
		t.Fatal(err)
	}
	b := startMember(t, bs)
	waitStatus(t, b, b.metricsURL("/readyz?exclude=non_learner"), http.StatusOK)
	if got, err := ReadLocalMember(zap.NewNop(), stale); err != nil || got != foreign {
		t.Errorf("ReadLocalMember(%s) = %+v, %v; want %+v", stale, got, err, foreign)
	}
	if _, err := os.Stat(filepath.Join(stale, "older")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("older stale copy not replaced: %v", err)
	}
	if got := readFile(t, bs.TerminationLog); !strings.HasPrefix(got, reason+"; data moved to "+stale) {
		t.Errorf("termination log = %q, want it to start with %q", got, reason)
	}
	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatalf("member list: %v", err)
	}
	if id := memberID(t, list, bs.Name); id != added.Member.ID {
		t.Errorf("B started as %x, want the learner %x", id, added.Member.ID)
	}
}

// localCluster is n members bootstrapping one new plain-http cluster; each
// asks the others when it joins or restarts.
func localCluster(t *testing.T, prefix string, n int) []Settings {
	t.Helper()
	ss := make([]Settings, n)
	var peers []Peer
	for i := range ss {
		ss[i] = localSettings(t, fmt.Sprintf("%s-%d", prefix, i), "")
		peers = append(peers, ss[i].InitialCluster...)
	}
	for i := range ss {
		ss[i].InitialCluster = peers
		ss[i].ClusterToken = "test-" + prefix
		for j := range ss {
			if j != i {
				ss[i].JoinEndpoints = append(ss[i].JoinEndpoints, ss[j].AdvertiseClientURL.String())
			}
		}
	}
	return ss
}

func memberID(t *testing.T, list *clientv3.MemberListResponse, name string) uint64 {
	t.Helper()
	for _, m := range list.Members {
		if m.Name == name {
			return m.ID
		}
	}
	t.Fatalf("no member named %s in %v", name, list.Members)
	return 0
}

func emptyFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
