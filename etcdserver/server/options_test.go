package server

import (
	"strings"
	"testing"

	"go.etcd.io/etcd/server/v3/embed"

	"quorum.dev/etcd-operator/etcdserver/configkeys"
)

func TestLoadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string
		wantErr []string
		check   func(t *testing.T, c *embed.Config)
	}{
		{
			name: "unknown key among valid ones",
			yaml: "quota-backend-bytes: 8589934592\nauto-compaction-mode: periodic\nauto-compaction-retention: \"1h\"\n" +
				"snapshot-count: 10000\nlog-level: info\nmax-learners: 2\nexperimental-nonexistent-is-not-here: 1\n",
			wantErr: []string{`unknown key "experimental-nonexistent-is-not-here"`},
		},
		{
			name: "tuning keys are applied",
			yaml: "quota-backend-bytes: 8589934592\nauto-compaction-mode: periodic\nauto-compaction-retention: \"1h\"\n" +
				"snapshot-count: 10000\nlog-level: warn\nheartbeat-interval: 50\nelection-timeout: 500\ntls-min-version: TLS1.3\n",
			check: func(t *testing.T, c *embed.Config) {
				if c.QuotaBackendBytes != 8589934592 || c.SnapshotCount != 10000 || c.LogLevel != "warn" ||
					c.AutoCompactionMode != "periodic" || c.AutoCompactionRetention != "1h" ||
					c.TickMs != 50 || c.ElectionMs != 500 || c.TlsMinVersion != "TLS1.3" {
					t.Errorf("options not applied: quota=%d snap=%d level=%s mode=%s ret=%s tick=%d election=%d tls=%s",
						c.QuotaBackendBytes, c.SnapshotCount, c.LogLevel, c.AutoCompactionMode,
						c.AutoCompactionRetention, c.TickMs, c.ElectionMs, c.TlsMinVersion)
				}
			},
		},
		{
			name: "empty file gives etcd defaults",
			yaml: "",
			check: func(t *testing.T, c *embed.Config) {
				if c.SnapshotCount != embed.NewConfig().SnapshotCount {
					t.Errorf("SnapshotCount = %d", c.SnapshotCount)
				}
			},
		},
		{
			name:    "controlled keys, all reported",
			yaml:    "name: x\ndata-dir: /x\nlisten-client-urls: http://0.0.0.0:1\ninitial-cluster-state: new\nclient-transport-security:\n  cert-file: /x\nlog-outputs: [stdout]\nforce-new-cluster: true\n",
			wantErr: []string{`"name"`, `"data-dir"`, `"listen-client-urls"`, `"initial-cluster-state"`, `"client-transport-security"`, `"log-outputs"`, `"force-new-cluster"`, "set by quorum-etcd"},
		},
		{name: "flag-only name is unknown", yaml: "cert-file: /x\n", wantErr: []string{`unknown key "cert-file"`}},
		{name: "Go field name is unknown", yaml: "ClientTLSInfo: {}\n", wantErr: []string{`unknown key "ClientTLSInfo"`}},
		{name: "not a mapping", yaml: "- a\n- b\n", wantErr: []string{"expected a YAML mapping"}},
		{name: "wrong type", yaml: "snapshot-count: lots\n", wantErr: []string{"etcd options"}},
		{name: "bad log level", yaml: "log-level: loud\n", wantErr: []string{"log-level loud"}},
		{name: "bad compaction mode", yaml: "auto-compaction-mode: hourly\n", wantErr: []string{`unknown auto-compaction-mode "hourly"`}},
		{name: "bad periodic retention", yaml: "auto-compaction-retention: often\n", wantErr: []string{`auto-compaction-retention "often"`}},
		{name: "revision retention must be a number", yaml: "auto-compaction-mode: revision\nauto-compaction-retention: 1h\n", wantErr: []string{"number of revisions"}},
		{name: "election below 5 heartbeats", yaml: "heartbeat-interval: 100\nelection-timeout: 200\n", wantErr: []string{"election-timeout"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := LoadOptions(writeFile(t, tc.yaml))
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("LoadOptions succeeded, want error containing %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadOptions: %v", err)
			}
			tc.check(t, c)
		})
	}
}

// Every controlled key must be a real etcd key, or the list has gone stale.
func TestControlledKeysAreKnown(t *testing.T) {
	t.Parallel()
	for _, k := range configkeys.All() {
		if !knownKeys[k] {
			t.Errorf("controlled key %q is not an etcd config-file key", k)
		}
	}
}

func TestEmbedConfig(t *testing.T) {
	t.Parallel()
	tlsDir := writeTLSDir(t)
	s := localSettings(t, "demo-0", tlsDir)
	s.ConfigFile = writeFile(t, "snapshot-count: 777\nlog-level: error\n")
	peer1 := Peer{Name: "demo-1", URL: hostURL("https", "127.0.0.1", 1)}

	tests := []struct {
		name      string
		s         Settings
		b         Bootstrap
		wantErr   string
		wantState string
		wantIC    string
	}{
		{name: "new", s: s, b: Bootstrap{Mode: ModeNew, InitialCluster: []Peer{s.InitialCluster[0], peer1}},
			wantState: embed.ClusterStateFlagNew, wantIC: FormatInitialCluster([]Peer{s.InitialCluster[0], peer1})},
		{name: "join", s: s, b: Bootstrap{Mode: ModeJoin, InitialCluster: []Peer{peer1, s.InitialCluster[0]}},
			wantState: embed.ClusterStateFlagExisting, wantIC: FormatInitialCluster([]Peer{peer1, s.InitialCluster[0]})},
		{name: "restart ignores the initial cluster", s: s, b: Bootstrap{Mode: ModeRestart},
			wantState: embed.ClusterStateFlagExisting, wantIC: "demo-0=" + s.AdvertisePeerURL.String()},
		{name: "unknown mode", s: s, b: Bootstrap{Mode: "sideways"}, wantErr: "unknown bootstrap mode"},
		{name: "new without peers", s: s, b: Bootstrap{Mode: ModeNew}, wantErr: "needs an initial cluster"},
		{name: "bad options file", s: func() Settings { x := s; x.ConfigFile = writeFile(t, "wal-dir: /x\n"); return x }(),
			b: Bootstrap{Mode: ModeRestart}, wantErr: `"wal-dir" is set by quorum-etcd`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := tc.s.EmbedConfig(tc.b)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("EmbedConfig error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("EmbedConfig: %v", err)
			}
			if c.ClusterState != tc.wantState || c.InitialCluster != tc.wantIC {
				t.Errorf("state=%q ic=%q, want %q %q", c.ClusterState, c.InitialCluster, tc.wantState, tc.wantIC)
			}
			if c.Name != "demo-0" || c.Dir != s.DataDir || c.InitialClusterToken != s.ClusterToken {
				t.Errorf("identity: name=%q dir=%q token=%q", c.Name, c.Dir, c.InitialClusterToken)
			}
			if c.SnapshotCount != 777 || c.LogLevel != "error" {
				t.Errorf("options lost: snapshot-count=%d log-level=%s", c.SnapshotCount, c.LogLevel)
			}
			urls := map[string]string{
				"listen-peer":      c.ListenPeerUrls[0].String(),
				"listen-client":    c.ListenClientUrls[0].String(),
				"listen-metrics":   c.ListenMetricsUrls[0].String(),
				"advertise-peer":   c.AdvertisePeerUrls[0].String(),
				"advertise-client": c.AdvertiseClientUrls[0].String(),
			}
			want := map[string]string{
				"listen-peer":      s.ListenPeerURL.String(),
				"listen-client":    s.ListenClientURL.String(),
				"listen-metrics":   s.ListenMetricsURL.String(),
				"advertise-peer":   s.AdvertisePeerURL.String(),
				"advertise-client": s.AdvertiseClientURL.String(),
			}
			for k := range want {
				if urls[k] != want[k] {
					t.Errorf("%s = %s, want %s", k, urls[k], want[k])
				}
			}
			for side, info := range map[string]struct {
				cert, ca string
				auth     bool
			}{
				"client": {c.ClientTLSInfo.CertFile, c.ClientTLSInfo.TrustedCAFile, c.ClientTLSInfo.ClientCertAuth},
				"peer":   {c.PeerTLSInfo.CertFile, c.PeerTLSInfo.TrustedCAFile, c.PeerTLSInfo.ClientCertAuth},
			} {
				if info.cert != tlsDir.CertFile() || info.ca != tlsDir.CAFile() || !info.auth {
					t.Errorf("%s TLS = %+v, want mutual TLS from %s", side, info, tlsDir)
				}
			}
			if len(c.LogOutputs) != 1 || c.LogOutputs[0] != "stderr" || c.LogFormat != "json" {
				t.Errorf("logging = %v %s", c.LogOutputs, c.LogFormat)
			}
		})
	}
}

func TestEmbedConfigPlainHTTP(t *testing.T) {
	t.Parallel()
	s := localSettings(t, "plain-0", "")
	c, err := s.EmbedConfig(Bootstrap{Mode: ModeNew, InitialCluster: s.InitialCluster})
	if err != nil {
		t.Fatalf("EmbedConfig: %v", err)
	}
	if !c.ClientTLSInfo.Empty() || !c.PeerTLSInfo.Empty() || c.ClientTLSInfo.ClientCertAuth || c.PeerTLSInfo.ClientCertAuth {
		t.Errorf("TLS configured without TLS dirs: client=%+v peer=%+v", c.ClientTLSInfo, c.PeerTLSInfo)
	}
	if c.ListenClientUrls[0].Scheme != "http" || c.AdvertisePeerUrls[0].Scheme != "http" {
		t.Errorf("schemes: %s %s", c.ListenClientUrls[0].Scheme, c.AdvertisePeerUrls[0].Scheme)
	}
}
