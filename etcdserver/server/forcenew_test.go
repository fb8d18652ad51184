package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestForceNewClusterFromSurvivor: a 3-member cluster loses two members
// (quorum lost). The survivor A restarts once with the recovery's ID and
// comes back as a one-member cluster holding every write; restarted again
// under the same ID it is a plain restart. Member B, back on its old data
// dir, finds itself removed, sets its data aside and joins as the learner
// added for it.
func TestForceNewClusterFromSurvivor(t *testing.T) {
	t.Parallel()
	ss := localCluster(t, "fnc", 3)
	ms := make([]*member, len(ss))
	for i, s := range ss {
		ms[i] = startMember(t, s)
	}
	for _, m := range ms {
		waitStatus(t, m, m.metricsURL("/readyz"), http.StatusOK)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	cli := newClient(t, "", ss[0].AdvertiseClientURL)
	for i := 0; i < 20; i++ {
		if _, err := cli.Put(ctx, "k"+strings.Repeat("x", i), "v"); err != nil {
			t.Fatalf("put: %v", err)
		}
	}
	for i := range ms {
		if err := ms[i].stop(t); err != nil {
			t.Fatalf("stopping %s: %v", ss[i].Name, err)
		}
	}

	// Not meant for this member: a plain restart, which cannot become
	// ready alone.
	a := ss[0]
	a.ClusterState = ClusterStateExisting
	a.ForceNewCluster = forceNewClusterID("fnc-1/r1", a.Name)
	if a.ForceNewCluster != "" || forceNewClusterPending(a) {
		t.Fatalf("a recovery naming another member applies to %s", a.Name)
	}
	a.ForceNewCluster = forceNewClusterID(a.Name+"/r1", a.Name)
	if !forceNewClusterPending(a) {
		t.Fatal("the recovery is not pending")
	}
	am := startMember(t, a)
	waitStatus(t, am, am.metricsURL("/readyz"), http.StatusOK)
	if got := strings.TrimSpace(readFile(t, filepath.Join(a.DataDir, ForceNewClusterMarker))); got != "r1" {
		t.Errorf("marker = %q, want r1", got)
	}
	cli = newClient(t, "", a.AdvertiseClientURL)
	list, err := cli.MemberList(ctx)
	if err != nil || len(list.Members) != 1 || list.Members[0].Name != a.Name {
		t.Fatalf("member list after forcing a new cluster: %v, %v", list, err)
	}
	got, err := cli.Get(ctx, "k", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || got.Count != 20 {
		t.Fatalf("keys after forcing a new cluster: %v, %v", got, err)
	}
	if err := am.stop(t); err != nil {
		t.Fatal(err)
	}
	if forceNewClusterPending(a) {
		t.Fatal("the recovery is still pending after it ran")
	}
	am = startMember(t, a)
	waitStatus(t, am, am.metricsURL("/readyz"), http.StatusOK)

	// B comes back on its old data: the cluster no longer lists it.
	added := addLearner(ctx, t, cli, ss[1].AdvertisePeerURL.String())
	b := ss[1]
	b.ClusterState = ClusterStateExisting
	b.JoinEndpoints = []string{a.AdvertiseClientURL.String()}
	bm := startMember(t, b)
	waitStatus(t, bm, bm.metricsURL("/readyz?exclude=non_learner"), http.StatusOK)
	if _, err := os.Stat(b.DataDir + StaleSuffix); err != nil {
		t.Errorf("B's old data was not set aside: %v", err)
	}
	promote(ctx, t, cli, added.Member.ID)
	waitStatus(t, bm, bm.metricsURL("/readyz"), http.StatusOK)
	sameRevisionAndHash(ctx, t, cli, a.AdvertiseClientURL.String(), b.AdvertiseClientURL.String())
}
