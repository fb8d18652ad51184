package etcdclient

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func freeURL(t *testing.T) *url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u, _ := url.Parse("http://" + l.Addr().String())
	return u
}

// startEtcd runs a real single-member etcd on free loopback ports.
func startEtcd(t *testing.T, name string) string {
	t.Helper()
	ep, _ := startEtcdWith(t, name, nil)
	return ep
}

// startEtcdWith is startEtcd with the configuration adjusted by tune (if
// set) before the start; it also returns the server.
func startEtcdWith(t *testing.T, name string, tune func(*embed.Config)) (string, *embed.Etcd) {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = t.TempDir()
	cfg.LogLevel = "error"
	client, peer := freeURL(t), freeURL(t)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.InitialCluster = fmt.Sprintf("%s=%s", name, peer)
	if tune != nil {
		tune(cfg)
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("etcd not ready")
	}
	return client.String(), e
}

func TestMemberListAndStatus(t *testing.T) {
	t.Parallel()
	ep := startEtcd(t, "m0")
	c, err := New(Config{Endpoints: []string{ep}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	clusterID, members, err := c.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if clusterID == 0 || len(members) != 1 || members[0].Name != "m0" || !members[0].Started() || members[0].IsLearner {
		t.Fatalf("unexpected member list: id=%x %+v", clusterID, members)
	}
	st, err := c.Status(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	if st.MemberID != members[0].ID || st.LeaderID != members[0].ID || st.Version == "" || st.DBSize <= 0 {
		t.Fatalf("unexpected status: %+v (member %x)", st, members[0].ID)
	}
}

func TestStatusOfUnreachableEndpointFailsWithinTimeout(t *testing.T) {
	t.Parallel()
	ep := startEtcd(t, "m1")
	c, err := New(Config{Endpoints: []string{ep}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dead := freeURL(t).String()
	start := time.Now()
	if _, err := c.Status(context.Background(), dead); err == nil {
		t.Fatal("status of a closed port succeeded")
	}
	if d := time.Since(start); d > RequestTimeout+DialTimeout+time.Second {
		t.Fatalf("status took %v, longer than its timeouts", d)
	}
}

func TestNewRejectsEmptyConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("want error for no endpoints")
	}
	if _, err := TLSConfig([]byte("x"), []byte("y"), nil); err == nil {
		t.Fatal("want error for bad key pair")
	}
}
