package backup

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
	"quorum.dev/etcd-operator/etcdserver/server"
)

const (
	// Fast raft, quiet etcd.
	testOptions = "heartbeat-interval: 20\nelection-timeout: 200\nlog-level: error\n"
	waitTimeout = 60 * time.Second
)

// writeTLSDir writes a CA and one leaf for 127.0.0.1/localhost, usable as
// server, peer and client certificate.
func writeTLSDir(t testing.TB) server.TLSDir {
	t.Helper()
	dir := t.TempDir()
	caKey, leafKey := newKey(t), newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "backup-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(leafKey)
	writePEM(t, filepath.Join(dir, server.TLSCAFile), "CERTIFICATE", caDER)
	writePEM(t, filepath.Join(dir, server.TLSCertFile), "CERTIFICATE", leafDER)
	writePEM(t, filepath.Join(dir, server.TLSKeyFile), "EC PRIVATE KEY", keyDER)
	return server.TLSDir(dir)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeTestFile(t testing.TB, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func localURL(scheme string) url.URL {
	return url.URL{Scheme: scheme, Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s3test.FreePort()))}
}

// memberSettings is a one-member cluster on 127.0.0.1 free ports.
func memberSettings(t testing.TB, name string, tlsDir server.TLSDir) server.Settings {
	t.Helper()
	scheme := tlsDir.Scheme()
	peer, client := localURL(scheme), localURL(scheme)
	return server.Settings{
		Name:               name,
		DataDir:            filepath.Join(t.TempDir(), "data"),
		ClusterState:       server.ClusterStateNew,
		InitialCluster:     []server.Peer{{Name: name, URL: peer}},
		ClusterToken:       "token-" + name,
		ListenPeerURL:      peer,
		AdvertisePeerURL:   peer,
		ListenClientURL:    client,
		AdvertiseClientURL: client,
		ListenMetricsURL:   localURL("http"),
		ServerTLS:          tlsDir,
		PeerTLS:            tlsDir,
		ConfigFile:         writeTestFile(t, "etcd.yaml", []byte(testOptions)),
		ReadyTimeout:       waitTimeout,
		MemberListTimeout:  10 * time.Second,
	}
}

// startMember runs quorum-etcd's server.Run until the test ends and returns
// a client once the member answers.
func startMember(t testing.TB, s server.Settings) *clientv3.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	lg := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named(s.Name)
	go func() { done <- server.Run(ctx, lg, s) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Errorf("member %s did not stop", s.Name)
		}
	})
	cli := newClient(t, s.ServerTLS, s.AdvertiseClientURL.String())
	deadline := time.Now().Add(waitTimeout)
	for {
		select {
		case err := <-done:
			t.Fatalf("member %s exited: %v", s.Name, err)
		default:
		}
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cli.Get(rctx, "health-probe")
		rcancel()
		if err == nil {
			return cli
		}
		if time.Now().After(deadline) {
			t.Fatalf("member %s not serving within %s: %v", s.Name, waitTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newClient(t testing.TB, tlsDir server.TLSDir, endpoints ...string) *clientv3.Client {
	t.Helper()
	var tlsCfg *tls.Config
	if tlsDir.Enabled() {
		info := transport.TLSInfo{CertFile: tlsDir.CertFile(), KeyFile: tlsDir.KeyFile(), TrustedCAFile: tlsDir.CAFile()}
		var err error
		if tlsCfg, err = info.ClientConfig(); err != nil {
			t.Fatal(err)
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tlsCfg, Logger: zap.NewNop(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// fill writes n keys, overwrites the first half (so there is history to
// compact) and returns the revision after the last write.
func fill(t *testing.T, cli *clientv3.Client, n int) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var rev int64
	for i := range n {
		if _, err := cli.Put(ctx, fmt.Sprintf("/k/%04d", i), fmt.Sprintf("v1-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n / 2 {
		resp, err := cli.Put(ctx, fmt.Sprintf("/k/%04d", i), fmt.Sprintf("v2-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		rev = resp.Header.Revision
	}
	return rev
}

// mapEnv is an Env over a map.
func mapEnv(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// runCLI runs a command and returns exit code, stdout and stderr.
func runCLI(t *testing.T, main func(context.Context, []string, IO) int, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := main(context.Background(), args, IO{Stdout: &out, Stderr: &errb, Env: mapEnv(env)})
	return code, out.String(), errb.String()
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func testLogger(t *testing.T) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
}
