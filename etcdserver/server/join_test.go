package server

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestJoinAsLearner: member A bootstraps alone; the test adds B as a
// learner, B starts with state existing, finds itself through MemberList
// over mutual TLS and joins; the test promotes B and both members end at
// the same revision and hash. A member the cluster does not list is refused.
func TestJoinAsLearner(t *testing.T) {
	t.Parallel()
	tlsDir := writeTLSDir(t)
	a := startMember(t, localSettings(t, "demo-0", tlsDir))
	waitStatus(t, a, a.metricsURL("/readyz"), http.StatusOK)

	cli := newClient(t, tlsDir, a.s.AdvertiseClientURL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	if _, err := cli.Put(ctx, "before-join", "1"); err != nil {
		t.Fatalf("put on A: %v", err)
	}

	// A member that was not added is told so and exits.
	stranger := localSettings(t, "demo-9", tlsDir)
	stranger.ClusterState = ClusterStateExisting
	stranger.JoinEndpoints = []string{a.s.AdvertiseClientURL.String()}
	stranger.JoinWait = 4 * time.Second // asks again for a while, then gives up
	s9 := startMember(t, stranger)
	select {
	case err := <-s9.done:
		s9.done <- err
		if !errors.Is(err, ErrNotAMember) {
			t.Fatalf("Run of an unlisted member = %v, want ErrNotAMember", err)
		}
		t.Logf("unlisted member refused: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("unlisted member did not exit")
	}

	bs := localSettings(t, "demo-1", tlsDir)
	bs.ClusterState = ClusterStateExisting
	bs.InitialCluster = []Peer{{Name: "demo-0", URL: a.s.AdvertisePeerURL}}
	bs.JoinEndpoints = []string{a.s.AdvertiseClientURL.String()}
	added, err := cli.MemberAddAsLearner(ctx, []string{bs.AdvertisePeerURL.String()})
	if err != nil {
		t.Fatalf("adding B as learner: %v", err)
	}
	b := startMember(t, bs)

	// A learner is live but not ready: etcd's /readyz has a non_learner check.
	waitStatus(t, b, b.metricsURL("/livez"), http.StatusOK)
	if code, _, err := httpStatus(b.metricsURL("/readyz/non_learner")); err != nil || code != http.StatusServiceUnavailable {
		t.Errorf("learner /readyz/non_learner: code=%d err=%v, want 503", code, err)
	}
	if code, _, err := httpStatus(b.metricsURL("/readyz?exclude=non_learner")); err != nil || code != http.StatusOK {
		t.Errorf("learner /readyz?exclude=non_learner: code=%d err=%v, want 200", code, err)
	}

	promote(ctx, t, cli, added.Member.ID)
	waitStatus(t, b, b.metricsURL("/readyz"), http.StatusOK)

	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatalf("member list: %v", err)
	}
	names := map[string]bool{}
	for _, m := range list.Members {
		if m.IsLearner {
			t.Errorf("member %s is still a learner", m.Name)
		}
		names[m.Name] = true
	}
	if len(list.Members) != 2 || !names["demo-0"] || !names["demo-1"] {
		t.Fatalf("members after promotion = %v, want demo-0 and demo-1", list.Members)
	}

	both := newClient(t, tlsDir, a.s.AdvertiseClientURL, bs.AdvertiseClientURL)
	if _, err := both.Put(ctx, "after-join", "2"); err != nil {
		t.Fatalf("put after join: %v", err)
	}
	sameRevisionAndHash(ctx, t, both, a.s.AdvertiseClientURL.String(), bs.AdvertiseClientURL.String())

	if err := b.stop(t); err != nil {
		t.Errorf("stopping B: %v", err)
	}
	if err := a.stop(t); err != nil {
		t.Errorf("stopping A: %v", err)
	}
}

// promote retries MemberPromote until the learner has caught up.
func promote(ctx context.Context, t *testing.T, cli *clientv3.Client, id uint64) {
	t.Helper()
	for {
		_, err := cli.MemberPromote(ctx, id)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("promoting %x: %v", id, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// removeMember removes member id, trying again while etcd refuses: it
// refuses membership changes until the leader has been connected to a
// quorum for its health interval (5s), and stopping a member may have
// moved the leadership.
func removeMember(ctx context.Context, t *testing.T, cli *clientv3.Client, id uint64) {
	t.Helper()
	for _, err := cli.MemberRemove(ctx, id); err != nil; _, err = cli.MemberRemove(ctx, id) {
		if ctx.Err() != nil {
			t.Fatalf("removing %x: %v", id, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// addLearner adds peerURL as a learner, trying again while etcd refuses
// (see removeMember).
func addLearner(ctx context.Context, t *testing.T, cli *clientv3.Client, peerURL string) *clientv3.MemberAddResponse {
	t.Helper()
	for {
		added, err := cli.MemberAddAsLearner(ctx, []string{peerURL})
		if err == nil {
			return added
		}
		if ctx.Err() != nil {
			t.Fatalf("adding %s as a learner: %v", peerURL, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sameRevisionAndHash waits until every endpoint reports the same revision,
// then compares their KV hashes at that revision.
func sameRevisionAndHash(ctx context.Context, t *testing.T, cli *clientv3.Client, endpoints ...string) {
	t.Helper()
	var revs []int64
	for {
		revs = revs[:0]
		for _, ep := range endpoints {
			st, err := cli.Status(ctx, ep)
			if err != nil {
				t.Fatalf("status of %s: %v", ep, err)
			}
			revs = append(revs, st.Header.Revision)
		}
		if revs[0] == revs[len(revs)-1] {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("revisions never converged: %v", revs)
		case <-time.After(100 * time.Millisecond):
		}
	}
	var hashes []uint32
	for _, ep := range endpoints {
		h, err := cli.HashKV(ctx, ep, revs[0])
		if err != nil {
			t.Fatalf("hashkv of %s at %d: %v", ep, revs[0], err)
		}
		hashes = append(hashes, h.Hash)
	}
	if hashes[0] != hashes[1] {
		t.Fatalf("hashes at revision %d differ: %v", revs[0], hashes)
	}
	t.Logf("members agree: revision %d hash %d", revs[0], hashes[0])
}
