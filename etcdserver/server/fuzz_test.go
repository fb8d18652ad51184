package server

import (
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"quorum.dev/etcd-operator/etcdserver/configkeys"
)

// FuzzSettingsFromEnv feeds random environments to FromEnv. It must never
// panic, and a Settings it accepts must be consistent with its input. The
// file-system variables are picked from a fixed set (set bits of files)
// rather than fuzzed, so that the parser never reads /dev/zero or a FIFO.
func FuzzSettingsFromEnv(f *testing.F) {
	f.Add("demo-1", "prod", "demo-peer", "cluster.local",
		"demo-0=https://demo-0.demo-peer.prod.svc.cluster.local:2380,demo-1=https://demo-1.demo-peer.prod.svc.cluster.local:2380",
		"new", "demo-uid", "", "5m", uint8(0), uint8(0b0111))
	f.Add("demo-0", "prod", "demo-peer", "", "demo-0=http://a:2380", "existing", "", "/data", "0", uint8(0), uint8(0))
	f.Add(" a ", "b", "c", "x.y", "a=http://[::1]:1,b=https://h:2", "new", "t", "", "", uint8(0b1000), uint8(0b1000))
	f.Add("A", "-b", "c-", "..", "a=ftp://h:1", "old", "", "", "-1s", uint8(0), uint8(0b0100))
	f.Add("a", "b", "c", "d", "a=http://h:1,a=http://h:2", "new", "t", "", "1h", uint8(0xff), uint8(0b0011))

	// FromEnv only checks that the TLS files exist.
	tlsDir, emptyDir := f.TempDir(), f.TempDir()
	for _, name := range []string{TLSCertFile, TLSKeyFile, TLSCAFile} {
		if err := os.WriteFile(filepath.Join(tlsDir, name), nil, 0o600); err != nil {
			f.Fatal(err)
		}
	}
	goodOptions := filepath.Join(f.TempDir(), "good.yaml")
	badOptions := filepath.Join(f.TempDir(), "bad.yaml")
	for p, s := range map[string]string{goodOptions: "snapshot-count: 10000\nlog-level: warn\n", badOptions: "name: x\n"} {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			f.Fatal(err)
		}
	}

	f.Fuzz(func(t *testing.T, pod, ns, svc, domain, initial, state, token, dataDir, ready string, unset, files uint8) {
		env := map[string]string{
			EnvPodName: pod, EnvPodNamespace: ns, EnvPeerService: svc, EnvClusterDomain: domain,
			EnvInitialCluster: initial, EnvInitialClusterState: state, EnvClusterToken: token,
			EnvDataDir: dataDir, EnvReadyTimeout: ready,
		}
		keys := []string{EnvPodName, EnvPodNamespace, EnvPeerService, EnvClusterDomain, EnvInitialCluster,
			EnvInitialClusterState, EnvClusterToken, EnvDataDir}
		for i, k := range keys {
			if unset&(1<<i) != 0 {
				delete(env, k)
			}
		}
		dirs := []string{"", tlsDir, emptyDir}
		env[EnvServerTLSDir] = dirs[int(files&1)]
		env[EnvPeerTLSDir] = dirs[int(files>>1&1)]
		if files&0b1000 != 0 {
			env[EnvServerTLSDir] = emptyDir
		}
		env[EnvConfigFile] = []string{"", goodOptions, badOptions, "/nonexistent/options.yaml"}[int(files>>4&3)]

		s, err := FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			if !reflect.DeepEqual(s, Settings{}) {
				t.Fatalf("error %v with non-zero settings %+v", err, s)
			}
			return
		}
		checkSettings(t, s, env)
	})
}

func checkSettings(t *testing.T, s Settings, env map[string]string) {
	t.Helper()
	get := func(k, def string) string {
		if v := strings.TrimSpace(env[k]); v != "" {
			return v
		}
		return def
	}
	if s.Name != get(EnvPodName, "") || len(s.Name) > 63 || !dnsLabelRE.MatchString(s.Name) {
		t.Fatalf("name %q from %q", s.Name, env[EnvPodName])
	}
	switch s.ClusterState {
	case ClusterStateNew:
		if s.ClusterToken == "" {
			t.Fatal("new cluster without a token")
		}
	case ClusterStateExisting:
	default:
		t.Fatalf("cluster state %q accepted", s.ClusterState)
	}
	if s.ReadyTimeout < 0 {
		t.Fatalf("negative ready timeout %v", s.ReadyTimeout)
	}
	if s.ServerTLS.Enabled() != (get(EnvServerTLSDir, "") != "") || s.PeerTLS.Enabled() != (get(EnvPeerTLSDir, "") != "") {
		t.Fatalf("TLS dirs %q %q from %q %q", s.ServerTLS, s.PeerTLS, env[EnvServerTLSDir], env[EnvPeerTLSDir])
	}

	host := MemberHost(s.Name, get(EnvPeerService, ""), get(EnvPodNamespace, ""), get(EnvClusterDomain, DefaultClusterDomain))
	for _, u := range []struct {
		what   string
		u      url.URL
		scheme string
		host   string
		port   int
	}{
		{"advertise peer", s.AdvertisePeerURL, s.PeerTLS.Scheme(), host, PeerPort},
		{"advertise client", s.AdvertiseClientURL, s.ServerTLS.Scheme(), host, ClientPort},
		{"listen peer", s.ListenPeerURL, s.PeerTLS.Scheme(), listenHost, PeerPort},
		{"listen client", s.ListenClientURL, s.ServerTLS.Scheme(), listenHost, ClientPort},
		{"listen metrics", s.ListenMetricsURL, "http", listenHost, MetricsPort},
	} {
		if u.u.Scheme != u.scheme || u.u.Hostname() != u.host || u.u.Port() != strconv.Itoa(u.port) {
			t.Fatalf("%s URL %s, want %s://%s:%d", u.what, u.u.String(), u.scheme, u.host, u.port)
		}
		back, err := url.Parse(u.u.String())
		if err != nil || back.String() != u.u.String() {
			t.Fatalf("%s URL %s does not re-parse: %v", u.what, u.u.String(), err)
		}
	}

	others := 0
	seen := map[string]bool{}
	for _, p := range s.InitialCluster {
		if seen[p.Name] {
			t.Fatalf("member %q listed twice", p.Name)
		}
		seen[p.Name] = true
		if p.Name != s.Name {
			others++
		}
	}
	if len(s.JoinEndpoints) != others {
		t.Fatalf("%d join endpoints for %d other members", len(s.JoinEndpoints), others)
	}
	for _, ep := range s.JoinEndpoints {
		u, err := url.Parse(ep)
		if err != nil || u.Scheme != s.ServerTLS.Scheme() || u.Port() != strconv.Itoa(ClientPort) {
			t.Fatalf("join endpoint %q: %v", ep, err)
		}
	}
	if len(s.InitialCluster) > 0 {
		formatted := FormatInitialCluster(s.InitialCluster)
		again, err := ParseInitialCluster(formatted)
		if err != nil {
			t.Fatalf("formatted initial cluster %q does not parse: %v", formatted, err)
		}
		if FormatInitialCluster(again) != formatted {
			t.Fatalf("initial cluster %q re-parses as %q", formatted, FormatInitialCluster(again))
		}
	}
}

// FuzzOptionsFile feeds random files to LoadOptions. It must never panic,
// and a file it accepts must name no key quorum-etcd controls and must
// give a configuration etcd accepts once quorum-etcd's own settings are
// added (EmbedConfig), as a member would start with it.
func FuzzOptionsFile(f *testing.F) {
	f.Add([]byte("quota-backend-bytes: 8589934592\nauto-compaction-mode: periodic\nauto-compaction-retention: \"1h\"\n"))
	f.Add([]byte("snapshot-count: 10000\nlog-level: warn\nheartbeat-interval: 50\nelection-timeout: 500\ntls-min-version: TLS1.3\n"))
	f.Add([]byte(""))
	f.Add([]byte("name: x\nlisten-client-urls: http://0.0.0.0:1\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("log-level: loud\n"))
	f.Add([]byte("auto-compaction-mode: revision\nauto-compaction-retention: 1h\n"))
	f.Add([]byte("cipher-suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\nmax-learners: 2\n"))
	f.Add([]byte("feature-gates: \"StopGRPCServiceOnDefrag=true\"\n"))
	f.Add([]byte("election-timeout: 10\nheartbeat-interval: 100\n"))
	f.Add([]byte("snapshot-count: 010\nquota-backend-bytes: -1\nmax-learners: -0\n"))

	dir := f.TempDir()
	settings := Settings{
		Name:               "m0",
		DataDir:            filepath.Join(dir, "data"),
		ClusterState:       ClusterStateNew,
		ClusterToken:       "t",
		ListenPeerURL:      hostURL("http", "127.0.0.1", PeerPort),
		ListenClientURL:    hostURL("http", "127.0.0.1", ClientPort),
		ListenMetricsURL:   hostURL("http", "127.0.0.1", MetricsPort),
		AdvertisePeerURL:   hostURL("http", "127.0.0.1", PeerPort),
		AdvertiseClientURL: hostURL("http", "127.0.0.1", ClientPort),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "options.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadOptions(path)
		if err != nil {
			if cfg != nil {
				t.Fatalf("config with error %v", err)
			}
			return
		}
		var raw map[string]any
		if err := yaml.Unmarshal(data, &raw); err != nil {
			t.Fatalf("accepted a file that is not a mapping: %v", err)
		}
		for k := range raw {
			if reason, ok := configkeys.Controlled(k); ok {
				t.Fatalf("accepted controlled key %q (%s)", k, reason)
			}
			if !knownKeys[k] {
				t.Fatalf("accepted unknown key %q", k)
			}
		}
		s := settings
		s.ConfigFile = path
		s.InitialCluster = []Peer{{Name: s.Name, URL: s.AdvertisePeerURL}}
		if _, err := s.EmbedConfig(Bootstrap{Mode: ModeNew, InitialCluster: s.InitialCluster}); err != nil {
			t.Fatalf("options accepted by LoadOptions, refused when the member starts: %v\n%q", err, data)
		}
	})
}
