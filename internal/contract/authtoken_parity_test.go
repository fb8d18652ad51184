package contract_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/auth"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/etcdserver/server"
	"quorum.dev/etcd-operator/internal/contract"
)

// mountTokenKey stands in for the JWT signing key Secret mounted in a pod:
// when the environment names a key directory, a new directory holds a
// key the operator's renderer wrote (render.AuthTokenKeySecret).
func mountTokenKey(t *testing.T, c *etcdv1.EtcdCluster, env map[string]string) {
	t.Helper()
	if env[contract.EnvAuthTokenKeyDir] == "" {
		return
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := render.AuthTokenKeySecret(c, key)
	if err != nil {
		t.Fatal(err)
	}
	// Not under the test's directory: a subtest's carries its name, and
	// etcd's --auth-token cannot hold a path with ',' or '=' (quorum-etcd
	// refuses one; the rendered path has neither).
	d, err := os.MkdirTemp("", "auth-token-key")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	for name, v := range s.Data {
		if err := os.WriteFile(filepath.Join(d, name), v, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env[contract.EnvAuthTokenKeyDir] = d
}

// TestRenderedTokenSettingsReachEtcd renders a member for each kind of
// token, starts quorum-etcd's configuration from it, and has etcd build
// its token provider from the result: the operator's key format, paths
// and TTL are what etcd reads.
func TestRenderedTokenSettingsReachEtcd(t *testing.T) {
	o := render.Options{ImageRepository: "quorum.dev/etcd-server", ClusterDomain: "example.org"}
	for _, tc := range []struct {
		name       string
		token      etcdv1.AuthTokenSpec
		wantPrefix string
		wantTTL    uint // etcd's auth-token-ttl, seconds
	}{
		{"default jwt", etcdv1.AuthTokenSpec{}, "jwt,pub-key=", 300},
		{"jwt for 2h", etcdv1.AuthTokenSpec{Type: etcdv1.AuthTokenJWT, TTL: &metav1.Duration{Duration: 2 * time.Hour}}, "jwt,pub-key=", 7200},
		{"simple", etcdv1.AuthTokenSpec{Type: etcdv1.AuthTokenSimple}, "simple", 300},
		{"simple for 90s", etcdv1.AuthTokenSpec{Type: etcdv1.AuthTokenSimple, TTL: &metav1.Duration{Duration: 90 * time.Second}}, "simple", 90},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", UID: "0f1e2d3c"}}
			c.Spec.Auth.Token = tc.token
			boot := render.Bootstrap{State: render.StateNew, InitialCluster: render.InitialCluster(c, c.DesiredReplicas(), o.Domain())}
			env := memberEnvironment(t, c, o, boot, c.MemberName(0), t.TempDir())
			s, err := server.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatalf("quorum-etcd refuses the rendered environment: %v", err)
			}
			cfg, err := s.EmbedConfig(server.Bootstrap{Mode: server.ModeRestart})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(cfg.AuthToken, tc.wantPrefix) || cfg.AuthTokenTTL != tc.wantTTL {
				t.Fatalf("--auth-token %q --auth-token-ttl %d, want %s… and %d", cfg.AuthToken, cfg.AuthTokenTTL, tc.wantPrefix, tc.wantTTL)
			}
			if tc.wantPrefix != "simple" && !strings.Contains(cfg.AuthToken, "ttl="+c.AuthTokenTTL().String()) {
				t.Errorf("--auth-token %q does not carry the TTL %s", cfg.AuthToken, c.AuthTokenTTL())
			}
			tp, err := auth.NewTokenProvider(zap.NewNop(), cfg.AuthToken, nil, time.Duration(cfg.AuthTokenTTL)*time.Second)
			if err != nil {
				t.Fatalf("etcd refuses --auth-token %q: %v", cfg.AuthToken, err)
			}
			if tp == nil {
				t.Fatal("no token provider")
			}
		})
	}
}
