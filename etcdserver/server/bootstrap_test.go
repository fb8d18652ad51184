package server

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.uber.org/zap"
)

func TestJoinInitialCluster(t *testing.T) {
	t.Parallel()
	self := mustURL(t, "https://demo-3.demo-peer.ns.svc.cluster.local:2380")
	member := func(id uint64, name string, urls ...string) *etcdserverpb.Member {
		return &etcdserverpb.Member{ID: id, Name: name, PeerURLs: urls}
	}
	p := func(n int) string {
		return "https://demo-" + string(rune('0'+n)) + ".demo-peer.ns.svc.cluster.local:2380"
	}

	tests := []struct {
		name    string
		members []*etcdserverpb.Member
		want    string
		wantErr string
		notIn   bool
	}{
		{
			name:    "learner added by the operator",
			members: []*etcdserverpb.Member{member(1, "demo-0", p(0)), member(2, "demo-1", p(1)), member(3, "demo-2", p(2)), member(4, "", p(3))},
			want:    "demo-0=" + p(0) + ",demo-1=" + p(1) + ",demo-2=" + p(2) + ",demo-3=" + p(3),
		},
		{
			name:    "URL matched case-insensitively and with trailing slash",
			members: []*etcdserverpb.Member{member(1, "demo-0", p(0)), member(4, "", strings.ToUpper("HTTPS://DEMO-3.demo-peer.ns.svc.cluster.local:2380")+"/")},
			// The registered URL is kept (url.Parse lower-cases the scheme only).
			want: "demo-0=" + p(0) + ",demo-3=https://DEMO-3.DEMO-PEER.NS.SVC.CLUSTER.LOCAL:2380/",
		},
		{
			name:    "not added yet",
			members: []*etcdserverpb.Member{member(1, "demo-0", p(0)), member(2, "demo-1", p(1))},
			wantErr: "member demo-3 with peer URL " + p(3) + " is not in the cluster; the operator must add it first",
			notIn:   true,
		},
		{
			name:    "same host, other scheme is not us",
			members: []*etcdserverpb.Member{member(1, "demo-0", p(0)), member(4, "", "http://demo-3.demo-peer.ns.svc.cluster.local:2380")},
			wantErr: "is not in the cluster",
			notIn:   true,
		},
		{
			name:    "another unstarted member blocks the join",
			members: []*etcdserverpb.Member{member(1, "demo-0", p(0)), member(5, "", p(4)), member(4, "", p(3))},
			wantErr: "other added members have not started: 5 (" + p(4) + ")",
		},
		{
			name:    "already started elsewhere means lost data",
			members: []*etcdserverpb.Member{member(1, "demo-0", p(0)), member(4, "demo-3", p(3))},
			wantErr: "member data lost",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			peers, err := JoinInitialCluster("demo-3", self, tc.members)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				if errors.Is(err, ErrNotAMember) != tc.notIn {
					t.Errorf("errors.Is(err, ErrNotAMember) = %v, want %v", !tc.notIn, tc.notIn)
				}
				return
			}
			if err != nil {
				t.Fatalf("JoinInitialCluster: %v", err)
			}
			if got := FormatInitialCluster(peers); got != tc.want {
				t.Errorf("initial cluster = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPlanWithoutNetwork(t *testing.T) {
	t.Parallel()
	s := localSettings(t, "demo-0", "")
	withWAL := s
	withWAL.DataDir = t.TempDir()
	walDir := filepath.Join(withWAL.DataDir, "member", "wal")
	if err := os.MkdirAll(walDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(walDir, "0000000000000000-0000000000000000.wal"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	restartAnyway := withWAL
	restartAnyway.ClusterState = ClusterStateExisting
	restartAnyway.InitialCluster = nil
	notListed := s
	notListed.InitialCluster = []Peer{{Name: "demo-1", URL: hostURL("http", "127.0.0.1", 1)}}
	wrongURL := s
	wrongURL.InitialCluster = []Peer{{Name: "demo-0", URL: hostURL("http", "127.0.0.1", 1)}}
	nobodyToAsk := s
	nobodyToAsk.ClusterState = ClusterStateExisting
	emptyWALDir := s
	emptyWALDir.DataDir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(emptyWALDir.DataDir, "member", "wal"), 0o700); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		s        Settings
		wantMode Mode
		wantErr  string
	}{
		{name: "WAL present means restart", s: withWAL, wantMode: ModeRestart},
		{name: "WAL wins over state existing", s: restartAnyway, wantMode: ModeRestart},
		{name: "empty wal dir is not a member", s: emptyWALDir, wantMode: ModeNew},
		{name: "new", s: s, wantMode: ModeNew},
		{name: "new, self not listed", s: notListed, wantErr: "member demo-0 is not listed in QUORUM_INITIAL_CLUSTER"},
		{name: "new, self listed with another URL", s: wrongURL, wantErr: "but it advertises"},
		{name: "existing, nobody to ask", s: nobodyToAsk, wantErr: "no other member to ask"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := Plan(context.Background(), zap.NewNop(), tc.s)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Plan error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if b.Mode != tc.wantMode {
				t.Errorf("mode = %s, want %s", b.Mode, tc.wantMode)
			}
		})
	}
}

func mustURL(t *testing.T, s string) url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return *u
}
