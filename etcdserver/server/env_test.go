package server

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"quorum.dev/etcd-operator/internal/contract"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	tlsDir := writeTLSDir(t)
	goodOptions := writeFile(t, "quota-backend-bytes: 8589934592\nauto-compaction-mode: periodic\nauto-compaction-retention: 1h\n")
	badOptions := writeFile(t, "initial-cluster: a=http://x:2380\n")

	base := func() map[string]string {
		return map[string]string{
			EnvPodName:             "demo-1",
			EnvPodNamespace:        "prod",
			EnvPeerService:         "demo-peer",
			EnvInitialCluster:      "demo-0=https://demo-0.demo-peer.prod.svc.cluster.local:2380,demo-1=https://demo-1.demo-peer.prod.svc.cluster.local:2380,demo-2=https://demo-2.demo-peer.prod.svc.cluster.local:2380",
			EnvInitialClusterState: "new",
			EnvClusterToken:        "demo-uid",
			EnvServerTLSDir:        string(tlsDir),
			EnvPeerTLSDir:          string(tlsDir),
			EnvConfigFile:          goodOptions,
		}
	}
	with := func(changes map[string]string) map[string]string {
		env := base()
		for k, v := range changes {
			if v == "<unset>" {
				delete(env, k)
				continue
			}
			env[k] = v
		}
		return env
	}

	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string // substrings; empty means success
		check   func(t *testing.T, s Settings)
	}{
		{
			name: "full TLS contract",
			env:  base(),
			check: func(t *testing.T, s Settings) {
				host := "demo-1.demo-peer.prod.svc.cluster.local"
				want := map[string]string{
					"advertise peer":   "https://" + host + ":2380",
					"advertise client": "https://" + host + ":2379",
					"listen peer":      "https://0.0.0.0:2380",
					"listen client":    "https://0.0.0.0:2379",
					"listen metrics":   "http://0.0.0.0:2381",
				}
				got := map[string]string{
					"advertise peer":   s.AdvertisePeerURL.String(),
					"advertise client": s.AdvertiseClientURL.String(),
					"listen peer":      s.ListenPeerURL.String(),
					"listen client":    s.ListenClientURL.String(),
					"listen metrics":   s.ListenMetricsURL.String(),
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("URLs = %v, want %v", got, want)
				}
				wantEps := []string{
					"https://demo-0.demo-peer.prod.svc.cluster.local:2379",
					"https://demo-2.demo-peer.prod.svc.cluster.local:2379",
				}
				if !reflect.DeepEqual(s.JoinEndpoints, wantEps) {
					t.Errorf("JoinEndpoints = %v, want %v", s.JoinEndpoints, wantEps)
				}
				if s.Name != "demo-1" || s.DataDir != DefaultDataDir || s.ClusterToken != "demo-uid" || s.ClusterState != "new" {
					t.Errorf("identity = %q %q %q %q", s.Name, s.DataDir, s.ClusterToken, s.ClusterState)
				}
				if len(s.InitialCluster) != 3 || s.InitialCluster[2].Name != "demo-2" {
					t.Errorf("InitialCluster = %v", s.InitialCluster)
				}
				if s.ReadyTimeout != DefaultReadyTimeout || s.MemberListTimeout != DefaultMemberListTimeout {
					t.Errorf("timeouts = %s %s", s.ReadyTimeout, s.MemberListTimeout)
				}
				if s.KeepStaleData || s.TerminationLog != DefaultTerminationLog {
					t.Errorf("KeepStaleData=%t TerminationLog=%q, want false and the default", s.KeepStaleData, s.TerminationLog)
				}
			},
		},
		{
			name: "stale data kept, termination log elsewhere",
			env:  with(map[string]string{EnvReplaceStaleData: "false", EnvTerminationLog: "/tmp/term"}),
			check: func(t *testing.T, s Settings) {
				if !s.KeepStaleData || s.TerminationLog != "/tmp/term" {
					t.Errorf("KeepStaleData=%t TerminationLog=%q", s.KeepStaleData, s.TerminationLog)
				}
			},
		},
		{
			name: "stale data replaced explicitly",
			env:  with(map[string]string{EnvReplaceStaleData: "true"}),
			check: func(t *testing.T, s Settings) {
				if s.KeepStaleData {
					t.Error("KeepStaleData with QUORUM_REPLACE_STALE_DATA=true")
				}
			},
		},
		{
			name: "plain http, custom domain, data dir and ready timeout",
			env: with(map[string]string{
				EnvServerTLSDir: "<unset>", EnvPeerTLSDir: "", EnvClusterDomain: "corp.example",
				EnvDataDir: "/data/etcd", EnvReadyTimeout: "0", EnvConfigFile: "<unset>",
				EnvInitialCluster: "demo-0=http://demo-0.demo-peer.prod.svc.corp.example:2380",
			}),
			check: func(t *testing.T, s Settings) {
				if got := s.AdvertisePeerURL.String(); got != "http://demo-1.demo-peer.prod.svc.corp.example:2380" {
					t.Errorf("AdvertisePeerURL = %s", got)
				}
				if got := s.ListenClientURL.String(); got != "http://0.0.0.0:2379" {
					t.Errorf("ListenClientURL = %s", got)
				}
				if s.ServerTLS.Enabled() || s.PeerTLS.Enabled() {
					t.Errorf("TLS enabled: %q %q", s.ServerTLS, s.PeerTLS)
				}
				if s.DataDir != "/data/etcd" || s.ReadyTimeout != 0 || s.ConfigFile != "" {
					t.Errorf("DataDir=%q ReadyTimeout=%s ConfigFile=%q", s.DataDir, s.ReadyTimeout, s.ConfigFile)
				}
				if !reflect.DeepEqual(s.JoinEndpoints, []string{"http://demo-0.demo-peer.prod.svc.corp.example:2379"}) {
					t.Errorf("JoinEndpoints = %v", s.JoinEndpoints)
				}
			},
		},
		{
			name: "existing without token or initial cluster is accepted (restart needs neither)",
			env:  with(map[string]string{EnvInitialClusterState: "existing", EnvClusterToken: "<unset>", EnvInitialCluster: "<unset>"}),
			check: func(t *testing.T, s Settings) {
				if s.InitialCluster != nil || s.JoinEndpoints != nil {
					t.Errorf("InitialCluster=%v JoinEndpoints=%v", s.InitialCluster, s.JoinEndpoints)
				}
			},
		},
		{
			name: "ready timeout as duration",
			env:  with(map[string]string{EnvReadyTimeout: "90s"}),
			check: func(t *testing.T, s Settings) {
				if s.ReadyTimeout != 90*time.Second {
					t.Errorf("ReadyTimeout = %s", s.ReadyTimeout)
				}
			},
		},
		{
			name:    "everything required missing, all reported",
			env:     map[string]string{},
			wantErr: []string{"POD_NAME is required", "POD_NAMESPACE is required", "QUORUM_PEER_SERVICE is required", "QUORUM_INITIAL_CLUSTER_STATE is required"},
		},
		{
			name: "TLS migration, listen: http advertised, https listened on besides",
			env:  with(map[string]string{EnvTLSMigration: "listen"}),
			check: func(t *testing.T, s Settings) {
				host := "demo-1.demo-peer.prod.svc.cluster.local"
				got := fmt.Sprint(s.AdvertisePeerURL.String(), " ", s.AdvertiseClientURL.String(), " ", s.ListenPeerURL.String(), " ", s.ListenClientURL.String(), " ", urlStrings(s.ExtraListenPeerURLs), " ", urlStrings(s.ExtraListenClientURLs), " ", s.JoinEndpoints[0])
				want := "http://" + host + ":2380 http://" + host + ":2379 http://0.0.0.0:2380 http://0.0.0.0:2379 [https://0.0.0.0:2382] [https://0.0.0.0:2379] http://demo-0.demo-peer.prod.svc.cluster.local:2379"
				if got != want {
					t.Errorf("URLs\n got %s\nwant %s", got, want)
				}
			},
		},
		{
			name: "TLS migration, advertise: https advertised, http clients and the https peer port kept",
			env:  with(map[string]string{EnvTLSMigration: "advertise"}),
			check: func(t *testing.T, s Settings) {
				host := "demo-1.demo-peer.prod.svc.cluster.local"
				got := fmt.Sprint(s.AdvertisePeerURL.String(), " ", s.AdvertiseClientURL.String(), " ", s.ListenPeerURL.String(), " ", s.ListenClientURL.String(), " ", urlStrings(s.ExtraListenPeerURLs), " ", urlStrings(s.ExtraListenClientURLs), " ", s.JoinEndpoints[0])
				want := "https://" + host + ":2380 https://" + host + ":2379 https://0.0.0.0:2380 https://0.0.0.0:2379 [https://0.0.0.0:2382] [http://0.0.0.0:2379] https://demo-0.demo-peer.prod.svc.cluster.local:2379"
				if got != want {
					t.Errorf("URLs\n got %s\nwant %s", got, want)
				}
			},
		},
		{name: "TLS migration needs TLS dirs", env: with(map[string]string{EnvTLSMigration: "listen", EnvPeerTLSDir: "<unset>"}), wantErr: []string{"QUORUM_TLS_MIGRATION \"listen\" needs both"}},
		{name: "TLS migration step unknown", env: with(map[string]string{EnvTLSMigration: "both"}), wantErr: []string{`QUORUM_TLS_MIGRATION must be "listen" or "advertise", got "both"`}},
		{name: "bad state", env: with(map[string]string{EnvInitialClusterState: "fresh"}), wantErr: []string{`must be "new" or "existing"`}},
		{name: "new needs token", env: with(map[string]string{EnvClusterToken: "  "}), wantErr: []string{"QUORUM_CLUSTER_TOKEN is required"}},
		{name: "pod name not a DNS label", env: with(map[string]string{EnvPodName: "Demo_1"}), wantErr: []string{"POD_NAME", "not a DNS label"}},
		{name: "bad domain", env: with(map[string]string{EnvClusterDomain: "-bad..domain"}), wantErr: []string{"QUORUM_CLUSTER_DOMAIN"}},
		{name: "bad ready timeout", env: with(map[string]string{EnvReadyTimeout: "soon"}), wantErr: []string{"QUORUM_READY_TIMEOUT"}},
		{name: "bad replace stale data", env: with(map[string]string{EnvReplaceStaleData: "maybe"}), wantErr: []string{"QUORUM_REPLACE_STALE_DATA", "not a boolean"}},
		{name: "negative ready timeout", env: with(map[string]string{EnvReadyTimeout: "-1s"}), wantErr: []string{"QUORUM_READY_TIMEOUT"}},
		{name: "initial cluster without =", env: with(map[string]string{EnvInitialCluster: "demo-0"}), wantErr: []string{"not name=peerURL"}},
		{name: "initial cluster duplicate", env: with(map[string]string{EnvInitialCluster: "a=http://a:2380,a=http://b:2380"}), wantErr: []string{"listed twice"}},
		{name: "initial cluster without port", env: with(map[string]string{EnvInitialCluster: "a=http://a"}), wantErr: []string{"scheme://host:port"}},
		{name: "initial cluster bad scheme", env: with(map[string]string{EnvInitialCluster: "a=unix://a:1"}), wantErr: []string{"http or https"}},
		{name: "TLS dir without files", env: with(map[string]string{EnvPeerTLSDir: t.TempDir()}), wantErr: []string{"QUORUM_PEER_TLS_DIR", "tls.crt"}},
		{name: "missing config file", env: with(map[string]string{EnvConfigFile: "/nonexistent/etcd.yaml"}), wantErr: []string{"QUORUM_CONFIG_FILE", "reading etcd options"}},
		{name: "config file with controlled key", env: with(map[string]string{EnvConfigFile: badOptions}), wantErr: []string{`"initial-cluster" is set by quorum-etcd`}},
	}
	tokenKeys := writeTokenKeyDir(t)
	tests = append(tests, []struct {
		name    string
		env     map[string]string
		wantErr []string
		check   func(t *testing.T, s Settings)
	}{
		{
			name: "tokens: simple with etcd's default TTL when nothing is set",
			env:  base(),
			check: func(t *testing.T, s Settings) {
				if s.AuthToken != contract.AuthTokenSimple || s.AuthTokenTTL != DefaultAuthTokenTTL || s.authTokenFlag() != "simple" {
					t.Errorf("token %q ttl %s flag %q, want simple 5m", s.AuthToken, s.AuthTokenTTL, s.authTokenFlag())
				}
			},
		},
		{
			name: "tokens: jwt with the mounted key and a TTL",
			env:  with(map[string]string{EnvAuthToken: "jwt", EnvAuthTokenKeyDir: tokenKeys, EnvAuthTokenTTL: "10m"}),
			check: func(t *testing.T, s Settings) {
				want := "jwt,pub-key=" + tokenKeys + "/public.pem,priv-key=" + tokenKeys + "/private.pem,sign-method=ES256,ttl=10m0s"
				if got := s.authTokenFlag(); got != want {
					t.Errorf("--auth-token %q, want %q", got, want)
				}
			},
		},
		{name: "tokens: unknown type", env: with(map[string]string{EnvAuthToken: "oauth"}), wantErr: []string{`QUORUM_AUTH_TOKEN must be "simple" or "jwt", got "oauth"`}},
		{name: "tokens: jwt without a key dir", env: with(map[string]string{EnvAuthToken: "jwt"}), wantErr: []string{"QUORUM_AUTH_TOKEN_KEY_DIR is required"}},
		{name: "tokens: jwt key dir without the key", env: with(map[string]string{EnvAuthToken: "jwt", EnvAuthTokenKeyDir: t.TempDir()}), wantErr: []string{"QUORUM_AUTH_TOKEN_KEY_DIR", "private.pem", "public.pem"}},
		{name: "tokens: key dir etcd would split", env: with(map[string]string{EnvAuthToken: "jwt", EnvAuthTokenKeyDir: "/keys,a=b"}), wantErr: []string{"may not contain ',' or '='"}},
		{name: "tokens: bad TTL", env: with(map[string]string{EnvAuthTokenTTL: "5"}), wantErr: []string{`QUORUM_AUTH_TOKEN_TTL "5"`}},
	}...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := FromEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("FromEnv succeeded, want error containing %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			tc.check(t, s)
		})
	}
}

func TestInitialClusterRoundTrip(t *testing.T) {
	t.Parallel()
	in := "demo-0=https://demo-0.p.ns.svc.cluster.local:2380,demo-10=https://demo-10.p.ns.svc.cluster.local:2380"
	peers, err := ParseInitialCluster(in)
	if err != nil {
		t.Fatalf("ParseInitialCluster: %v", err)
	}
	if got := FormatInitialCluster(peers); got != in {
		t.Errorf("round trip = %q, want %q", got, in)
	}
}

func urlStrings(us []url.URL) []string {
	out := make([]string, 0, len(us))
	for _, u := range us {
		out = append(out, u.String())
	}
	return out
}
