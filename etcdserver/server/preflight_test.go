package server

import (
	"strings"
	"testing"

	"go.etcd.io/etcd/api/v3/version"
)

func TestPreflight(t *testing.T) {
	t.Parallel()
	tlsDir := writeTLSDir(t)
	env := func(options string) LookupFunc {
		m := map[string]string{
			EnvPodName:             "demo-2",
			EnvPodNamespace:        "prod",
			EnvPeerService:         "demo-peer",
			EnvInitialCluster:      "demo-0=https://demo-0.demo-peer.prod.svc.cluster.local:2380",
			EnvInitialClusterState: "existing",
			EnvClusterToken:        "demo-uid",
			EnvServerTLSDir:        string(tlsDir),
			EnvPeerTLSDir:          string(tlsDir),
			EnvConfigFile:          writeFile(t, options),
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	tests := []struct {
		name    string
		options string
		wantErr string // empty: accepted
	}{
		{"accepted", "quota-backend-bytes: 8589934592\nauto-compaction-mode: periodic\nauto-compaction-retention: \"1h\"\nsnapshot-count: 20000\n", ""},
		// Admission checks keys and switches, not numbers: etcd's parser does.
		{"a number etcd cannot read", "snapshot-count: \"lots\"\n", "snapshot-count"},
		{"an option this etcd does not know (removed in a later minor)", "experimental-no-such-option: 1\n", `unknown key "experimental-no-such-option"`},
		{"a value only etcd's validation refuses", "heartbeat-interval: 500\nelection-timeout: 100\n", "election-timeout"},
		{"a log level etcd would panic on", "log-level: loud\n", "log-level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := Preflight(env(tc.options))
			if tc.wantErr == "" {
				if err != nil || v != version.Version {
					t.Fatalf("Preflight = %q, %v; want %q, nil", v, err, version.Version)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Preflight error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}
