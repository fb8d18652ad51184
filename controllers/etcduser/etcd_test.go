package etcduser

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/pki"
)

// testEtcd is a real single-member etcd serving clients over mutual TLS
// on a free loopback port, with auth on (root's password "rootpw").
type testEtcd struct {
	endpoint string
	ca, root pki.Pair // root: client certificate with CN root
}

func startTLSEtcd() *testEtcd {
	GinkgoHelper()
	now := time.Now()
	ca, err := pki.NewCA("test CA", now, 24*time.Hour*365)
	Expect(err).NotTo(HaveOccurred())
	srv, err := pki.Issue(ca, pki.LeafRequest{CommonName: "server", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Client: true}, now, 24*time.Hour*365)
	Expect(err).NotTo(HaveOccurred())
	root, err := pki.Issue(ca, pki.LeafRequest{CommonName: "root", Client: true}, now, 24*time.Hour*365)
	Expect(err).NotTo(HaveOccurred())
	dir := GinkgoT().TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		Expect(os.WriteFile(p, b, 0o600)).To(Succeed())
		return p
	}
	free := func(scheme string) url.URL {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()
		return url.URL{Scheme: scheme, Host: l.Addr().String()}
	}
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir, cfg.LogLevel = "u0", filepath.Join(dir, "data"), "error"
	cu, pu := free("https"), free("http")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	cfg.InitialCluster = fmt.Sprintf("u0=%s", pu.String())
	cfg.ClientTLSInfo.CertFile = write("server.crt", srv.CertPEM)
	cfg.ClientTLSInfo.KeyFile = write("server.key", srv.KeyPEM)
	cfg.ClientTLSInfo.TrustedCAFile = write("ca.crt", ca.CertPEM)
	cfg.ClientTLSInfo.ClientCertAuth = true
	e, err := embed.StartEtcd(cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(e.Close)
	Eventually(e.Server.ReadyNotify()).WithTimeout(30 * time.Second).Should(BeClosed())
	te := &testEtcd{endpoint: cu.String(), ca: ca, root: root}
	rc := te.client(te.tls(root), "", "")
	Expect(rc.EnableAuth(context.Background(), "rootpw")).To(Succeed())
	return te
}

func (e *testEtcd) tls(p pki.Pair) *tls.Config {
	GinkgoHelper()
	cfg, err := etcdclient.TLSConfig(p.CertPEM, p.KeyPEM, e.ca.CertPEM)
	Expect(err).NotTo(HaveOccurred())
	return cfg
}

func (e *testEtcd) client(t *tls.Config, user, password string) etcdclient.Client {
	GinkgoHelper()
	c, err := etcdclient.New(etcdclient.Config{Endpoints: []string{e.endpoint}, TLS: t, Username: user, Password: password})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	return c
}

// app is a clientv3 client as an application builds it from the
// credentials Secret's data (endpoints replaced by the test etcd's).
func (e *testEtcd) app(data map[string][]byte) (*clientv3.Client, error) {
	GinkgoHelper()
	t, err := etcdclient.TLSConfig(data["tls.crt"], data["tls.key"], data["ca.crt"])
	Expect(err).NotTo(HaveOccurred())
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.endpoint}, TLS: t, Username: string(data[KeyUsername]),
		Password: string(data[KeyPassword]), DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err == nil {
		DeferCleanup(c.Close)
	}
	return c, err
}

// refused: etcd said no (not: it did not answer).
func refused(err error) bool {
	return errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrUserNotFound) ||
		errors.Is(err, rpctypes.ErrAuthFailed) || errors.Is(err, rpctypes.ErrUserEmpty)
}
