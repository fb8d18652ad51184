package server

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"quorum.dev/etcd-operator/internal/contract"
)

// localPorts are one member's ports on 127.0.0.1.
type localPorts struct{ client, peer, peerTLS, metrics int }

// migrationSettings are the settings of member name at one step of a TLS
// migration, on fixed ports: step "" with tls false is plain http, steps
// contract.TLSMigrationListen and contract.TLSMigrationAdvertise are the
// migration's (as FromEnv derives them), "" with tls true is full TLS.
func migrationSettings(t *testing.T, name, dataDir string, p localPorts, initial []Peer, tlsDir TLSDir, tlsOn bool, step string) Settings {
	t.Helper()
	local := func(scheme string, port int) url.URL { return hostURL(scheme, "127.0.0.1", port) }
	s := Settings{
		Name: name, DataDir: dataDir, ClusterState: ClusterStateNew, InitialCluster: initial,
		ClusterToken: "migrate", ListenMetricsURL: local("http", p.metrics), ConfigFile: writeFile(t, testOptions),
		ReadyTimeout: waitTimeout, MemberListTimeout: 10 * time.Second, StaleCheckTimeout: 2 * time.Second,
		TLSMigration: step,
	}
	client, peer := "http", "http"
	if tlsOn {
		s.ServerTLS, s.PeerTLS = tlsDir, tlsDir
		client, peer = "https", "https"
	}
	switch step {
	case contract.TLSMigrationListen:
		client, peer = "http", "http"
		s.ExtraListenClientURLs = []url.URL{local("https", p.client)}
		s.ExtraListenPeerURLs = []url.URL{local("https", p.peerTLS)}
	case contract.TLSMigrationAdvertise:
		s.ExtraListenClientURLs = []url.URL{local("http", p.client)}
		s.ExtraListenPeerURLs = []url.URL{local("https", p.peerTLS)}
	}
	s.ListenClientURL, s.AdvertiseClientURL = local(client, p.client), local(client, p.client)
	s.ListenPeerURL, s.AdvertisePeerURL = local(peer, p.peer), local(peer, p.peer)
	return s
}

// TestRunTLSMigration turns TLS on for a running three-member cluster the
// way the operator does, with a client writing throughout: a rolling
// restart into "listen" (clients on http and https on one port, peers on
// http and on https at a second port), every peer URL moved to the https
// port, a rolling restart into "advertise", every peer URL moved back to
// the peer port (now https), a rolling restart into full TLS. Every write
// acknowledged is read back at the end over mutual TLS, and the members
// always talk to each other (each write needs a quorum).
func TestRunTLSMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nine etcd members in turn")
	}
	tlsDir := writeTLSDir(t)
	names := []string{"m-0", "m-1", "m-2"}
	ports := map[string]localPorts{}
	dirs := map[string]string{}
	var initial []Peer
	for _, n := range names {
		ports[n] = localPorts{freePort(t), freePort(t), freePort(t), freePort(t)}
		dirs[n] = t.TempDir() + "/data"
		initial = append(initial, Peer{Name: n, URL: hostURL("http", "127.0.0.1", ports[n].peer)})
	}
	members := map[string]*member{}
	start := func(n string, tlsOn bool, step string) {
		m := startMember(t, migrationSettings(t, n, dirs[n], ports[n], initial, tlsDir, tlsOn, step))
		members[n] = m
	}
	for _, n := range names {
		start(n, false, "")
	}
	for _, n := range names {
		waitStatus(t, members[n], members[n].metricsURL("/readyz"), 200)
	}
	endpoints := func(scheme string) []url.URL {
		var eps []url.URL
		for _, n := range names {
			eps = append(eps, hostURL(scheme, "127.0.0.1", ports[n].client))
		}
		return eps
	}
	plain := newClient(t, "", endpoints("http")...)
	secure := func() *clientv3.Client { return newClient(t, tlsDir, endpoints("https")...) }

	written := 0
	put := func(cli *clientv3.Client) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := cli.Put(ctx, fmt.Sprintf("k%03d", written), "v"); err != nil {
			t.Fatalf("put %d: %v", written, err)
		}
		written++
	}
	restart := func(cli *clientv3.Client, tlsOn bool, step string) {
		t.Helper()
		for _, n := range names {
			if err := members[n].stop(t); err != nil {
				t.Fatalf("stopping %s: %v", n, err)
			}
			put(cli) // two members of three: a quorum
			start(n, tlsOn, step)
			waitStatus(t, members[n], members[n].metricsURL("/readyz"), 200)
			put(cli)
		}
	}
	movePeers := func(cli *clientv3.Client, port func(localPorts) int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		list, err := cli.MemberList(ctx)
		if err != nil {
			t.Fatalf("member list: %v", err)
		}
		for _, m := range list.Members {
			u := hostURL("https", "127.0.0.1", port(ports[m.Name]))
			if _, err := cli.MemberUpdate(ctx, m.ID, []string{u.String()}); err != nil {
				t.Fatalf("moving %s to %s: %v", m.Name, u.String(), err)
			}
			// The member is reached at its new URL: a write needs all
			// three after the next member's peer URL moves too.
			put(cli)
		}
	}

	put(plain)
	restart(plain, true, contract.TLSMigrationListen)
	// Both schemes answer on one client port now.
	put(plain)
	put(secure())
	movePeers(plain, func(p localPorts) int { return p.peerTLS })
	restart(secure(), true, contract.TLSMigrationAdvertise)
	movePeers(secure(), func(p localPorts) int { return p.peer })
	final := secure()
	restart(final, true, "")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	list, err := final.MemberList(ctx)
	if err != nil {
		t.Fatalf("member list: %v", err)
	}
	for _, m := range list.Members {
		want, wantClient := hostURL("https", "127.0.0.1", ports[m.Name].peer), hostURL("https", "127.0.0.1", ports[m.Name].client)
		if len(m.PeerURLs) != 1 || m.PeerURLs[0] != want.String() || len(m.ClientURLs) != 1 || m.ClientURLs[0] != wantClient.String() {
			t.Errorf("member %s: peer %v client %v, want %s and %s", m.Name, m.PeerURLs, m.ClientURLs, want.String(), wantClient.String())
		}
	}
	resp, err := final.Get(ctx, "k", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != int64(written) {
		t.Fatalf("count of written keys = %v (err %v), want %d", resp, err, written)
	}
	// Plain http is gone.
	pctx, pcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer pcancel()
	if _, err := newClient(t, "", endpoints("http")...).Get(pctx, "k000"); err == nil {
		t.Error("plain http still answers after the migration")
	}
}
