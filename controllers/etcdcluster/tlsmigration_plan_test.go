package etcdcluster

import (
	"strings"
	"testing"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/contract"
)

func TestStartTLSMigration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		specTLS      bool
		recorded     etcdv1.TLSMigrationPhase
		stsExists    bool
		templateTLS  bool
		templateStep string
		want         etcdv1.TLSMigrationPhase
	}{
		{name: "TLS off", stsExists: true, want: ""},
		{name: "new cluster with TLS: no StatefulSet yet", specTLS: true, want: ""},
		{name: "running TLS cluster", specTLS: true, stsExists: true, templateTLS: true, want: ""},
		{name: "TLS just turned on for a running http cluster", specTLS: true, stsExists: true, want: etcdv1.TLSMigrationListenHTTPS},
		{name: "recorded phase goes on", specTLS: true, recorded: etcdv1.TLSMigrationMovePeersBack, stsExists: true, templateTLS: true, templateStep: contract.TLSMigrationAdvertise, want: etcdv1.TLSMigrationMovePeersBack},
		{name: "status lost in a listen phase", specTLS: true, stsExists: true, templateTLS: true, templateStep: contract.TLSMigrationListen, want: etcdv1.TLSMigrationListenHTTPS},
		{name: "status lost in an advertise phase", specTLS: true, stsExists: true, templateTLS: true, templateStep: contract.TLSMigrationAdvertise, want: etcdv1.TLSMigrationAdvertiseHTTPS},
		{name: "status lost in the last phase: a plain rollout finishes it", specTLS: true, stsExists: true, templateTLS: true, want: ""},
		{name: "spec TLS off drops a recorded phase", recorded: etcdv1.TLSMigrationListenHTTPS, stsExists: true, want: ""},
	} {
		if got := startTLSMigration(tc.specTLS, tc.recorded, tc.stsExists, tc.templateTLS, tc.templateStep); got != tc.want {
			t.Errorf("%s: phase = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestAdvanceTLSMigration(t *testing.T) {
	t.Parallel()
	tlsPort := func(n string) string { return "https://" + n + ".db-peer.ns.svc.cluster.local:2382" }
	httpURL := func(n string) string { return "http://" + n + ".db-peer.ns.svc.cluster.local:2380" }
	httpsURL := func(n string) string { return "https://" + n + ".db-peer.ns.svc.cluster.local:2380" }
	members := func(now, want func(string) string, names ...string) []tlsMember {
		var ms []tlsMember
		for i, n := range names {
			ms = append(ms, tlsMember{ID: uint64(i + 1), Name: n, PeerURLs: []string{now(n)}, Want: want(n)})
		}
		return ms
	}
	mixed := func(moved ...string) []tlsMember {
		ms := members(httpURL, tlsPort, "db-2", "db-0", "db-1")
		for i := range ms {
			for _, m := range moved {
				if ms[i].Name == m {
					ms[i].PeerURLs = []string{tlsPort(m)}
				}
			}
		}
		return ms
	}
	for _, tc := range []struct {
		name       string
		in         tlsInput
		wantPhase  etcdv1.TLSMigrationPhase
		wantUpdate string // member name
		wantURL    string
		wantMsg    string
	}{
		{name: "listen: restarts under way",
			in:        tlsInput{Phase: etcdv1.TLSMigrationListenHTTPS, Outdated: 2, AllHealthy: true},
			wantPhase: etcdv1.TLSMigrationListenHTTPS, wantMsg: "serve https besides http (2 left); next: MovePeersToTLSPort"},
		{name: "listen: rolled out, a member unhealthy",
			in:        tlsInput{Phase: etcdv1.TLSMigrationListenHTTPS, RolledOut: true},
			wantPhase: etcdv1.TLSMigrationListenHTTPS, wantMsg: "waiting for every member to be ready and healthy"},
		{name: "listen: rolled out and healthy",
			in:        tlsInput{Phase: etcdv1.TLSMigrationListenHTTPS, RolledOut: true, AllHealthy: true},
			wantPhase: etcdv1.TLSMigrationMovePeersToTLSPort, wantMsg: "phase ListenHTTPS done"},
		{name: "move to TLS port: first member by name, not by list position",
			in:        tlsInput{Phase: etcdv1.TLSMigrationMovePeersToTLSPort, AllHealthy: true, Members: mixed()},
			wantPhase: etcdv1.TLSMigrationMovePeersToTLSPort, wantUpdate: "db-0", wantURL: tlsPort("db-0"), wantMsg: "(3 left)"},
		{name: "move to TLS port: interrupted after the first update (status not advanced)",
			in:        tlsInput{Phase: etcdv1.TLSMigrationMovePeersToTLSPort, AllHealthy: true, Members: mixed("db-0")},
			wantPhase: etcdv1.TLSMigrationMovePeersToTLSPort, wantUpdate: "db-1", wantURL: tlsPort("db-1"), wantMsg: "(2 left)"},
		{name: "move to TLS port: waits for health",
			in:        tlsInput{Phase: etcdv1.TLSMigrationMovePeersToTLSPort, Members: mixed("db-0")},
			wantPhase: etcdv1.TLSMigrationMovePeersToTLSPort, wantMsg: "waiting for every member to be healthy before moving the peer URL of db-1"},
		{name: "move to TLS port: a member matching no ordinal is not touched",
			in:        tlsInput{Phase: etcdv1.TLSMigrationMovePeersToTLSPort, AllHealthy: true, Members: append(mixed("db-0", "db-1", "db-2"), tlsMember{ID: 9, Name: "stranger", PeerURLs: []string{"http://x:2380"}})},
			wantPhase: etcdv1.TLSMigrationAdvertiseHTTPS},
		{name: "move to TLS port: all moved (even unhealthy: nothing to do)",
			in:        tlsInput{Phase: etcdv1.TLSMigrationMovePeersToTLSPort, Members: mixed("db-0", "db-1", "db-2")},
			wantPhase: etcdv1.TLSMigrationAdvertiseHTTPS, wantMsg: "every peer URL moved"},
		{name: "advertise: restarts under way",
			in:        tlsInput{Phase: etcdv1.TLSMigrationAdvertiseHTTPS, Outdated: 1, AllHealthy: true},
			wantPhase: etcdv1.TLSMigrationAdvertiseHTTPS, wantMsg: "advertise https"},
		{name: "advertise: rolled out",
			in:        tlsInput{Phase: etcdv1.TLSMigrationAdvertiseHTTPS, RolledOut: true, AllHealthy: true},
			wantPhase: etcdv1.TLSMigrationMovePeersBack},
		{name: "move back: interrupted half way",
			in: tlsInput{Phase: etcdv1.TLSMigrationMovePeersBack, AllHealthy: true, Members: []tlsMember{
				{ID: 1, Name: "db-0", PeerURLs: []string{httpsURL("db-0")}, Want: httpsURL("db-0")},
				{ID: 2, Name: "db-1", PeerURLs: []string{tlsPort("db-1")}, Want: httpsURL("db-1")},
			}},
			wantPhase: etcdv1.TLSMigrationMovePeersBack, wantUpdate: "db-1", wantURL: httpsURL("db-1"), wantMsg: "next: DropHTTP"},
		{name: "move back: all back",
			in:        tlsInput{Phase: etcdv1.TLSMigrationMovePeersBack, AllHealthy: true, Members: members(httpsURL, httpsURL, "db-0", "db-1")},
			wantPhase: etcdv1.TLSMigrationDropHTTP},
		{name: "drop http: restarts under way",
			in:        tlsInput{Phase: etcdv1.TLSMigrationDropHTTP, Outdated: 3},
			wantPhase: etcdv1.TLSMigrationDropHTTP, wantMsg: "TLS only (3 left); next: done"},
		{name: "drop http: rolled out, migration over",
			in:        tlsInput{Phase: etcdv1.TLSMigrationDropHTTP, RolledOut: true, AllHealthy: true},
			wantPhase: "", wantMsg: "every member serves https only"},
		{name: "unknown phase is kept and named",
			in:        tlsInput{Phase: "Sideways"},
			wantPhase: "Sideways", wantMsg: `unknown TLS migration phase "Sideways"`},
	} {
		got := advanceTLSMigration(tc.in)
		if got.Phase != tc.wantPhase {
			t.Errorf("%s: phase = %q, want %q (%s)", tc.name, got.Phase, tc.wantPhase, got.Message)
		}
		switch {
		case tc.wantUpdate == "" && got.Update != nil:
			t.Errorf("%s: update %+v, want none", tc.name, *got.Update)
		case tc.wantUpdate != "" && (got.Update == nil || got.Update.Name != tc.wantUpdate || got.Update.Want != tc.wantURL):
			t.Errorf("%s: update %+v, want %s to %s", tc.name, got.Update, tc.wantUpdate, tc.wantURL)
		}
		if !strings.Contains(got.Message, tc.wantMsg) {
			t.Errorf("%s: message %q does not contain %q", tc.name, got.Message, tc.wantMsg)
		}
	}
}

func TestTLSPeerURL(t *testing.T) {
	t.Parallel()
	c := &etcdv1.EtcdCluster{}
	c.Name, c.Namespace = "db", "ns"
	if got := tlsPeerURL(c, 1, "cluster.local", etcdv1.TLSMigrationMovePeersToTLSPort); got != "https://db-1.db-peer.ns.svc.cluster.local:2382" {
		t.Errorf("to TLS port: %s", got)
	}
	if got := tlsPeerURL(c, 1, "cluster.local", etcdv1.TLSMigrationMovePeersBack); got != "https://db-1.db-peer.ns.svc.cluster.local:2380" {
		t.Errorf("back: %s", got)
	}
	if got := tlsPeerURL(c, 1, "cluster.local", etcdv1.TLSMigrationDropHTTP); got != "" {
		t.Errorf("restart phase: %q, want none", got)
	}
}
