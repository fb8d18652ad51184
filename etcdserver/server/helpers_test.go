package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"quorum.dev/etcd-operator/internal/contract"
)

// Test timings: fast raft, quiet etcd.
const (
	testOptions = "heartbeat-interval: 20\nelection-timeout: 200\nlog-level: error\nsnapshot-count: 10000\n"
	waitTimeout = 60 * time.Second
)

// writeTLSDir writes a fresh CA and a leaf certificate for 127.0.0.1 and
// localhost, usable as server and client certificate, into a temp dir.
func writeTLSDir(t *testing.T) TLSDir {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "quorum-test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("creating CA: %v", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatalf("parsing CA: %v", err)
	}
	leafKey := newKey(t)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "member"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("creating leaf: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		t.Fatalf("marshalling key: %v", err)
	}
	writePEM(t, filepath.Join(dir, TLSCAFile), "CERTIFICATE", caDER)
	writePEM(t, filepath.Join(dir, TLSCertFile), "CERTIFICATE", leafDER)
	writePEM(t, filepath.Join(dir, TLSKeyFile), "EC PRIVATE KEY", keyDER)
	return TLSDir(dir)
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	return k
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "etcd.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatalf("writing %s: %v", p, err)
	}
	return p
}

var (
	portsMu sync.Mutex
	ports   = map[int]bool{}
)

// freePort returns a port that was free on 127.0.0.1 a moment ago and that
// no other test of this binary got. It picks below the kernel's ephemeral
// range (32768+) so that outgoing connections cannot grab it before the
// member binds it.
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		p := 20000 + mrand.IntN(12000)
		if ports[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		_ = l.Close()
		ports[p] = true
		return p
	}
	t.Fatal("no free port found")
	return 0
}

// localSettings is a member listening on 127.0.0.1 free ports, with the
// given TLS dir for both sides (or none).
func localSettings(t *testing.T, name string, tlsDir TLSDir) Settings {
	t.Helper()
	scheme := tlsDir.Scheme()
	peer := hostURL(scheme, "127.0.0.1", freePort(t))
	client := hostURL(scheme, "127.0.0.1", freePort(t))
	return Settings{
		Name:               name,
		DataDir:            filepath.Join(t.TempDir(), "data"),
		ClusterState:       ClusterStateNew,
		InitialCluster:     []Peer{{Name: name, URL: peer}},
		ClusterToken:       "test-" + name,
		ListenPeerURL:      peer,
		AdvertisePeerURL:   peer,
		ListenClientURL:    client,
		AdvertiseClientURL: client,
		ListenMetricsURL:   hostURL("http", "127.0.0.1", freePort(t)),
		ServerTLS:          tlsDir,
		PeerTLS:            tlsDir,
		ConfigFile:         writeFile(t, testOptions),
		ReadyTimeout:       waitTimeout,
		MemberListTimeout:  10 * time.Second,
	}
}

// member is a Run in the background.
type member struct {
	s      Settings
	cancel context.CancelFunc
	done   chan error
}

func startMember(t *testing.T, s Settings) *member {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{s: s, cancel: cancel, done: make(chan error, 1)}
	lg := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Named(s.Name)
	go func() { m.done <- Run(ctx, lg, s) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-m.done:
		case <-time.After(waitTimeout):
			t.Errorf("member %s did not stop", s.Name)
		}
	})
	return m
}

// stop cancels Run and returns its result.
func (m *member) stop(t *testing.T) error {
	t.Helper()
	m.cancel()
	select {
	case err := <-m.done:
		m.done <- err // let the cleanup see it too
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("member %s did not stop within %s", m.s.Name, waitTimeout)
		return nil
	}
}

func (m *member) metricsURL(path string) string {
	u := m.s.ListenMetricsURL
	return u.String() + path
}

// httpStatus GETs url and returns the status code and body.
func httpStatus(url string) (int, string, error) {
	// No keep-alive: embed.Etcd.Close closes the metrics listener but not the
	// connections already accepted, which would keep answering from the
	// stopped server. Kubelet probes do not reuse connections either.
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// waitStatus polls url until it answers want, or fails the test.
func waitStatus(t *testing.T, m *member, url string, want int) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-m.done:
			m.done <- err
			t.Fatalf("member %s exited while waiting for %s: %v", m.s.Name, url, err)
		default:
		}
		code, body, err := httpStatus(url)
		if err == nil && code == want {
			return body
		}
		last = fmt.Sprintf("code=%d body=%q err=%v", code, body, err)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d within %s; last: %s", url, want, waitTimeout, last)
	return ""
}

// newClient is a client of the given endpoints, with the leaf certificate
// of tlsDir as client certificate when tlsDir is set.
func newClient(t *testing.T, tlsDir TLSDir, endpoints ...url.URL) *clientv3.Client {
	t.Helper()
	var tlsCfg *tls.Config
	if tlsDir.Enabled() {
		info := transport.TLSInfo{CertFile: tlsDir.CertFile(), KeyFile: tlsDir.KeyFile(), TrustedCAFile: tlsDir.CAFile()}
		var err error
		if tlsCfg, err = info.ClientConfig(); err != nil {
			t.Fatalf("client TLS: %v", err)
		}
	}
	eps := make([]string, 0, len(endpoints))
	for _, u := range endpoints {
		eps = append(eps, u.String())
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, TLS: tlsCfg, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("creating client: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// untrustedClientTLS is a TLS dir that trusts the CA of from but whose
// "client certificate" is signed by an unrelated CA.
func untrustedClientTLS(t *testing.T, from TLSDir) TLSDir {
	t.Helper()
	other := writeTLSDir(t)
	ca, err := os.ReadFile(from.CAFile())
	if err != nil {
		t.Fatalf("reading CA: %v", err)
	}
	if err := os.WriteFile(other.CAFile(), ca, 0o600); err != nil {
		t.Fatalf("writing CA: %v", err)
	}
	return other
}

// writeTokenKeyDir writes a JWT signing key pair as the operator stores it
// (contract.AuthTokenPrivateKeyFile, PKCS #8; AuthTokenPublicKeyFile, PKIX).
func writeTokenKeyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	k := newKey(t)
	priv, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, contract.AuthTokenPrivateKeyFile), "PRIVATE KEY", priv)
	writePEM(t, filepath.Join(dir, contract.AuthTokenPublicKeyFile), "PUBLIC KEY", pub)
	return dir
}
