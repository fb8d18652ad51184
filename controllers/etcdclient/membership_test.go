package etcdclient

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

type node struct {
	name         string
	client, peer *url.URL
	etcd         *embed.Etcd
}

// startMember starts one embedded member; initial lists every member it
// starts with, state is "new" or "existing".
func startMember(t *testing.T, n *node, initial, state string) {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir, cfg.LogLevel = n.name, t.TempDir(), "error"
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*n.client}, []url.URL{*n.client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*n.peer}, []url.URL{*n.peer}
	cfg.InitialCluster, cfg.ClusterState, cfg.InitialClusterToken = initial, state, "t"
	cfg.TickMs, cfg.ElectionMs = 20, 200
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.etcd = e
	t.Cleanup(e.Close)
}

func newNode(t *testing.T, name string) *node {
	return &node{name: name, client: freeURL(t), peer: freeURL(t)}
}

func TestScaleUpAndDownThroughTheClusterAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := newNode(t, "a"), newNode(t, "b")
	initial := fmt.Sprintf("a=%s,b=%s", a.peer, b.peer)
	startMember(t, a, initial, "new")
	startMember(t, b, initial, "new")
	<-a.etcd.Server.ReadyNotify()
	<-b.etcd.Server.ReadyNotify()

	anon, err := New(Config{Endpoints: []string{a.client.String(), b.client.String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	// The client talks to a follower only, so that a promotion not sent
	// to the leader would fail.
	st0, err := anon.Status(ctx, a.client.String())
	if err != nil {
		t.Fatal(err)
	}
	follower := a.client.String()
	if st0.LeaderID == st0.MemberID {
		follower = b.client.String()
	}
	// With authentication on, a promotion sent to a follower fails: the
	// client must reach the leader.
	if err := anon.EnableAuth(ctx, "pw"); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Endpoints: []string{follower}, Username: "root", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Add c as a learner, start it, promote it once it has caught up.
	// etcd refuses membership changes until every member has been
	// connected for a few seconds ("unhealthy cluster"): retry, as the
	// reconciler does on its next pass.
	n := newNode(t, "c")
	var id uint64
	retry(t, func() (err error) { id, err = c.AddLearner(ctx, n.peer.String()); return err })
	startMember(t, n, initial+",c="+n.peer.String(), "existing")
	<-n.etcd.Server.ReadyNotify()
	leader := func() string {
		st, err := c.Status(ctx, a.client.String())
		if err != nil {
			t.Fatal(err)
		}
		_, ms, err := c.MemberList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.ID == st.LeaderID {
				return m.ClientURLs[0]
			}
		}
		t.Fatal("no leader")
		return ""
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		err = c.Promote(ctx, leader(), id)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), ErrLearnerNotReady.Error()) {
			t.Fatalf("promote: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, members, err := c.MemberList(ctx)
	if err != nil || len(members) != 3 {
		t.Fatalf("members after promote: %v %+v", err, members)
	}
	for _, m := range members {
		if m.IsLearner {
			t.Fatalf("%s still a learner", m.Name)
		}
	}

	// Move leadership to c, then remove the old leader.
	st, err := c.Status(ctx, a.client.String())
	if err != nil {
		t.Fatal(err)
	}
	leaderURL := map[uint64]string{}
	for _, m := range members {
		leaderURL[m.ID] = m.ClientURLs[0]
	}
	if err := c.MoveLeader(ctx, leaderURL[st.LeaderID], id); err != nil {
		t.Fatal(err)
	}
	st, err = c.Status(ctx, n.client.String())
	if err != nil || st.LeaderID != id {
		t.Fatalf("leader after move: %x (%v), want %x", st.LeaderID, err, id)
	}
	var old uint64
	for _, m := range members {
		if m.Name == "a" {
			old = m.ID
		}
	}
	// The client may be talking to a only: use the members that stay.
	rest, err := New(Config{Endpoints: []string{b.client.String(), n.client.String()}, Username: "root", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer rest.Close()
	retry(t, func() error { return rest.Remove(ctx, old) })
	// Removing a member that is already gone is done, not an error.
	retry(t, func() error { return rest.Remove(ctx, old) })
	_, members, err = rest.MemberList(ctx)
	if err != nil || len(members) != 2 {
		t.Fatalf("members after remove: %v %+v", err, members)
	}
}

// retry calls f until it succeeds, failing the test after 20 seconds.
func retry(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestUpdatePeerURLs moves a member's peer URL through the cluster API
// and reads it back from the member list.
func TestUpdatePeerURLs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newNode(t, "a")
	startMember(t, a, fmt.Sprintf("a=%s", a.peer), "new")
	<-a.etcd.Server.ReadyNotify()
	cl, err := New(Config{Endpoints: []string{a.client.String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, members, err := cl.MemberList(ctx)
	if err != nil || len(members) != 1 {
		t.Fatalf("member list = %v, %v", members, err)
	}
	moved := "https://" + a.peer.Host
	if err := cl.UpdatePeerURLs(ctx, members[0].ID, []string{moved}); err != nil {
		t.Fatalf("UpdatePeerURLs: %v", err)
	}
	_, members, err = cl.MemberList(ctx)
	if err != nil || len(members) != 1 || strings.Join(members[0].PeerURLs, ",") != moved {
		t.Fatalf("member list after the update = %+v, %v; want peer URL %s", members, err, moved)
	}
	if err := cl.UpdatePeerURLs(ctx, members[0].ID+1, []string{moved}); err == nil {
		t.Error("UpdatePeerURLs of an unknown member succeeded")
	}
}
