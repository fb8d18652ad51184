package etcdclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"quorum.dev/etcd-operator/controllers/pki"
)

// tlsEtcd runs a single-member etcd serving clients over mutual TLS
// (client-cert-auth, as the bundled server runs) with auth enabled, and
// returns its endpoint, its CA and a root client.
func tlsEtcd(t *testing.T) (string, pki.Pair, Client) {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewCA("test CA", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pki.Issue(ca, pki.LeafRequest{CommonName: "server", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Client: true}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ep, _ := startEtcdWith(t, "users", func(cfg *embed.Config) {
		u := cfg.ListenClientUrls[0]
		u.Scheme = "https"
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{u}, []url.URL{u}
		cfg.ClientTLSInfo.CertFile = write("server.crt", srv.CertPEM)
		cfg.ClientTLSInfo.KeyFile = write("server.key", srv.KeyPEM)
		cfg.ClientTLSInfo.TrustedCAFile = write("ca.crt", ca.CertPEM)
		cfg.ClientTLSInfo.ClientCertAuth = true
	})
	ep = "https" + strings.TrimPrefix(ep, "http")
	root := certClient(t, ep, ca, "root")
	if err := root.EnableAuth(context.Background(), "rootpw"); err != nil {
		t.Fatal(err)
	}
	return ep, ca, root
}

// clientTLS issues a client certificate with common name cn ("" for a
// transport-only certificate) and returns a TLS configuration with it.
func clientTLS(t *testing.T, ca pki.Pair, cn string) *tls.Config {
	t.Helper()
	leaf, err := pki.Issue(ca, pki.LeafRequest{CommonName: cn, Client: true}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := TLSConfig(leaf.CertPEM, leaf.KeyPEM, ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func certClient(t *testing.T, ep string, ca pki.Pair, cn string) Client {
	t.Helper()
	c, err := New(Config{Endpoints: []string{ep}, TLS: clientTLS(t, ca, cn)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// rawClient is a clientv3 client as an application builds it.
func rawClient(t *testing.T, ep string, tlsCfg *tls.Config, user, password string) (*clientv3.Client, error) {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, TLS: tlsCfg, Username: user, Password: password,
		DialTimeout: DialTimeout, Logger: zap.NewNop()})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func denied(err error) bool {
	return errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrUserNotFound) ||
		errors.Is(err, rpctypes.ErrAuthFailed) || errors.Is(err, rpctypes.ErrUserEmpty)
}

func TestUsersCertificateAndPassword(t *testing.T) {
	t.Parallel()
	ep, ca, root := tlsEtcd(t)
	ctx := context.Background()

	app := User{Name: "app", Role: "quorum-user-app", Permissions: []Permission{{Key: "/app/", RangeEnd: "/app0", Type: PermReadWrite}}}
	if err := root.EnsureUser(ctx, app); err != nil {
		t.Fatal(err)
	}
	// A second pass only reads. etcd serves RoleGet and UserGet through
	// raft too, so they are the two entries it may add.
	before, err := root.Status(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.EnsureUser(ctx, app); err != nil {
		t.Fatalf("second pass: %v", err)
	}
	if after, err := root.Status(ctx, ep); err != nil || after.RaftIndex > before.RaftIndex+2 {
		t.Fatalf("an idle pass moved the raft index from %d to %d, more than its two reads (%v)", before.RaftIndex, after.RaftIndex, err)
	}
	appTLS := clientTLS(t, ca, "app")
	cl, err := rawClient(t, ep, appTLS, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Put(ctx, "/app/x", "1"); err != nil {
		t.Fatalf("put inside the prefix: %v", err)
	}
	if r, err := cl.Get(ctx, "/app/x"); err != nil || len(r.Kvs) != 1 {
		t.Fatalf("get inside the prefix: %v %v", r, err)
	}
	if _, err := cl.Put(ctx, "/other/x", "1"); !denied(err) {
		t.Fatalf("put outside the prefix: %v, want permission denied", err)
	}
	if _, err := cl.Get(ctx, "/other/x"); !denied(err) {
		t.Fatalf("get outside the prefix: %v, want permission denied", err)
	}
	// No password login for a certificate user.
	if _, err := rawClient(t, ep, clientTLS(t, ca, ""), "app", "guess"); err == nil {
		t.Fatal("certificate user logged in with a password")
	}

	// Narrowed to read on /app/: writes refused, reads still fine.
	app.Permissions = []Permission{{Key: "/app/", RangeEnd: "/app0", Type: PermRead}, {Key: "/cfg", Type: PermRead}}
	if err := root.EnsureUser(ctx, app); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Put(ctx, "/app/x", "2"); !denied(err) {
		t.Fatalf("put after narrowing to read: %v", err)
	}
	if _, err := cl.Get(ctx, "/cfg"); err != nil {
		t.Fatalf("get of the added key: %v", err)
	}
	// The range moves: the old one is revoked.
	app.Permissions = []Permission{{Key: "/new/", RangeEnd: "/new0", Type: PermReadWrite}}
	if err := root.EnsureUser(ctx, app); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Get(ctx, "/app/x"); !denied(err) {
		t.Fatalf("get of a revoked range: %v", err)
	}
	if _, err := cl.Put(ctx, "/new/y", "1"); err != nil {
		t.Fatalf("put in the new range: %v", err)
	}

	// A password user with a transport certificate without a common name.
	pw := User{Name: "pwuser", Role: "quorum-user-pwuser", Password: "s3cret", Permissions: []Permission{{Key: "/p/", RangeEnd: "/p0", Type: PermReadWrite}}}
	if err := root.EnsureUser(ctx, pw); err != nil {
		t.Fatal(err)
	}
	transport := clientTLS(t, ca, "")
	pc, err := rawClient(t, ep, transport, "pwuser", "s3cret")
	if err != nil {
		t.Fatalf("password login: %v", err)
	}
	if _, err := pc.Put(ctx, "/p/a", "1"); err != nil {
		t.Fatalf("password user put inside: %v", err)
	}
	if _, err := pc.Put(ctx, "/app/a", "1"); !denied(err) {
		t.Fatalf("password user put outside: %v", err)
	}
	if _, err := rawClient(t, ep, transport, "pwuser", "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	// ResetPassword changes it; without, an existing user keeps its own.
	pw.Password = "other"
	if err := root.EnsureUser(ctx, pw); err != nil {
		t.Fatal(err)
	}
	if _, err := rawClient(t, ep, transport, "pwuser", "s3cret"); err != nil {
		t.Fatalf("password changed without ResetPassword: %v", err)
	}
	pw.ResetPassword = true
	if err := root.EnsureUser(ctx, pw); err != nil {
		t.Fatal(err)
	}
	if _, err := rawClient(t, ep, transport, "pwuser", "other"); err != nil {
		t.Fatalf("reset password: %v", err)
	}

	// Delete: the certificate no longer authenticates; twice is fine.
	for i := 0; i < 2; i++ {
		if err := root.DeleteUser(ctx, "app", app.Role); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
	}
	if _, err := cl.Get(ctx, "/new/y"); !denied(err) {
		t.Fatalf("deleted user's certificate: %v, want refused", err)
	}
	if err := root.EnsureUser(ctx, User{Name: "root", Role: "x"}); err == nil {
		t.Fatal("EnsureUser accepted root")
	}
	if err := root.DeleteUser(ctx, "root", "root"); err == nil {
		t.Fatal("DeleteUser accepted root")
	}
}

// TestPasswordUserThroughTheGateway: a password user's transport
// certificate (no common name) passes etcd's gRPC gateway, and a token
// from /v3/auth/authenticate authorises JSON requests, as `curl` makes
// them (issue #15 item 6).
func TestPasswordUserThroughTheGateway(t *testing.T) {
	t.Parallel()
	ep, ca, root := tlsEtcd(t)
	ctx := context.Background()
	u := User{Name: "web", Role: "quorum-user-web", Password: "pw1", Permissions: []Permission{{Key: "/web/", RangeEnd: "/web0", Type: PermReadWrite}}}
	if err := root.EnsureUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: RequestTimeout, Transport: &http.Transport{TLSClientConfig: clientTLS(t, ca, "")}}
	post := func(path, token string, body any) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ep+path, bytes.NewReader(b))
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, auth := post("/v3/auth/authenticate", "", map[string]string{"name": "web", "password": "pw1"})
	token, _ := auth["token"].(string)
	if code != http.StatusOK || token == "" {
		t.Fatalf("authenticate: %d %v", code, auth)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	if code, out := post("/v3/kv/put", token, map[string]string{"key": b64("/web/a"), "value": b64("1")}); code != http.StatusOK {
		t.Fatalf("put inside with the token: %d %v", code, out)
	}
	if code, out := post("/v3/kv/put", token, map[string]string{"key": b64("/other"), "value": b64("1")}); code == http.StatusOK {
		t.Fatalf("put outside with the token: %d %v, want refused", code, out)
	}
	if code, out := post("/v3/kv/put", "", map[string]string{"key": b64("/web/a"), "value": b64("1")}); code == http.StatusOK {
		t.Fatalf("put without a token: %d %v, want refused", code, out)
	}
}
