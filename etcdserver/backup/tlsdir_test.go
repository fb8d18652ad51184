package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quorum.dev/etcd-operator/etcdserver/server"
)

// An external etcd without --client-cert-auth is reached with its CA
// alone: a TLS directory with ca.crt and neither tls.crt nor tls.key
// gives a client that verifies the server and presents no certificate;
// one of the two without the other is an error naming the file.
func TestClientTLSDir(t *testing.T) {
	full := writeTLSDir(t)
	caOnly := server.TLSDir(t.TempDir())
	ca, err := os.ReadFile(full.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caOnly.CAFile(), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	certNoKey := server.TLSDir(t.TempDir())
	for _, f := range []string{server.TLSCAFile, server.TLSCertFile} {
		b, err := os.ReadFile(filepath.Join(string(full), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(string(certNoKey), f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name       string
		dir        server.TLSDir
		wantErr    string
		clientCert bool
	}{
		{"CA and client certificate", full, "", true},
		{"CA only", caOnly, "", false},
		{"certificate without key", certNoKey, "tls.key", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := EtcdClient{TLS: tc.dir}.tlsConfig()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.RootCAs == nil {
				t.Error("no CA pool: the server would not be verified")
			}
			if got := cfg.GetClientCertificate != nil || len(cfg.Certificates) > 0; got != tc.clientCert {
				t.Errorf("client certificate presented: %v, want %v", got, tc.clientCert)
			}
		})
	}
}
