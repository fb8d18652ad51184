//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
)

// followingClientTLS is clientTLS for a client that follows the client
// Secret, as an application re-reading its mounted Secret does: every
// handshake presents the Secret's current certificate and verifies the
// server against its current ca.crt (read at most once a second). A CA
// rotation replaces both; clientTLS's fixed copy would be left behind.
func followingClientTLS(ctx context.Context, ns, name string) *tls.Config {
	return followingTLS(ctx, ns, name, func(context.Context) (string, error) { return name + "-client-tls", nil })
}

// followingTLS is followingClientTLS for the client Secret secretName
// names at the moment of each read (status.clientSecretName, for a client
// that follows a switch of certificate sources).
func followingTLS(ctx context.Context, ns, name string, secretName func(context.Context) (string, error)) *tls.Config {
	var mu sync.Mutex
	var cached *corev1.Secret
	var readAt time.Time
	secret := func() (*corev1.Secret, error) {
		mu.Lock()
		defer mu.Unlock()
		if cached != nil && time.Since(readAt) < time.Second {
			return cached, nil
		}
		s := &corev1.Secret{}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		sn, err := secretName(rctx)
		if err == nil {
			err = k8s.Get(rctx, client.ObjectKey{Namespace: ns, Name: sn}, s)
		}
		if err != nil {
			if cached != nil {
				return cached, nil
			}
			return nil, err
		}
		cached, readAt = s, time.Now()
		return s, nil
	}
	serverName := fmt.Sprintf("%s-client.%s.svc", name, ns)
	return &tls.Config{
		ServerName: serverName,
		MinVersion: tls.VersionTLS12,
		// Verified below against the Secret's current ca.crt.
		InsecureSkipVerify: true, //nolint:gosec
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			s, err := secret()
			if err != nil {
				return nil, err
			}
			pair, err := tls.X509KeyPair(s.Data["tls.crt"], s.Data["tls.key"])
			return &pair, err
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			s, err := secret()
			if err != nil {
				return err
			}
			return verifyChain(cs, s.Data["ca.crt"], serverName)
		},
	}
}

// pemOf encodes a certificate as PEM.
func pemOf(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// verifyChain checks the served certificate against a PEM bundle of CAs
// and a server name ("" checks no name).
func verifyChain(cs tls.ConnectionState, bundle []byte, serverName string) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		return fmt.Errorf("no CA in the bundle")
	}
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("no certificate served")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: serverName})
	return err
}

// availabilityWatch records every moment the cluster was seen not
// Available, polling once a second until stopped.
type availabilityWatch struct {
	mu   sync.Mutex
	lost []string
	stop chan struct{}
	done chan struct{}
}

func watchAvailable(ctx context.Context, ns, name string) *availabilityWatch {
	a := &availabilityWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			select {
			case <-a.stop:
				return
			case <-time.After(time.Second):
			}
			c := &etcdv1.EtcdCluster{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c); err != nil {
				continue
			}
			if cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionAvailable); cond == nil || cond.Status != metav1.ConditionTrue {
				a.mu.Lock()
				a.lost = append(a.lost, fmt.Sprintf("%s: %+v", time.Now().Format(time.RFC3339), cond))
				a.mu.Unlock()
			}
		}
	}()
	return a
}

func (a *availabilityWatch) finish() []string {
	close(a.stop)
	<-a.done
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lost
}

// rotateCA asks for a CA rotation with value and waits until it is over,
// logging the phases it passes; it returns the new CA.
func rotateCA(ctx context.Context, ns, name, value string) *x509.Certificate {
	GinkgoHelper()
	c := &etcdv1.EtcdCluster{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
	patch := client.MergeFrom(c.DeepCopy())
	metav1.SetMetaDataAnnotation(&c.ObjectMeta, etcdv1.AnnotationRotateCA, value)
	Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
	seen := ""
	Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		ca := c.Status.CertificateAuthority
		g.Expect(ca).NotTo(BeNil())
		if ca.Rotation != nil && !strings.HasSuffix(seen, string(ca.Rotation.Phase)) {
			seen += " " + string(ca.Rotation.Phase)
			GinkgoWriter.Printf("%s CA rotation phase %s\n", time.Now().Format(time.RFC3339), ca.Rotation.Phase)
		}
		g.Expect(ca.HandledRequest).To(Equal(value))
		g.Expect(ca.Rotation).To(BeNil())
		g.Expect(ca.LastRotationTime).NotTo(BeNil())
	}).WithContext(ctx).WithTimeout(15 * time.Minute).WithPolling(time.Second).Should(Succeed())
	s := &corev1.Secret{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-ca"}, s)).To(Succeed())
	cert, err := pki.ParseCert(s.Data["tls.crt"])
	Expect(err).NotTo(HaveOccurred())
	return cert
}

// checkOnlyCA checks that every certificate Secret of the cluster trusts
// newCA alone and that every member serves, on its client and its peer
// port, a certificate newCA signed.
func checkOnlyCA(ctx context.Context, ns, name string, newCA *x509.Certificate) {
	GinkgoHelper()
	for _, sn := range []string{"-ca", "-server-tls", "-peer-tls", "-client-tls"} {
		s := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + sn}, s)).To(Succeed())
		bundle, err := pki.ParseBundle(s.Data["ca.crt"])
		Expect(err).NotTo(HaveOccurred())
		Expect(bundle).To(HaveLen(1), "secret %s trusts one CA", name+sn)
		Expect(bundle[0].Equal(newCA)).To(BeTrue(), "secret %s trusts the new CA", name+sn)
		if sn != "-ca" {
			leaf, err := pki.ParseCert(s.Data["tls.crt"])
			Expect(err).NotTo(HaveOccurred())
			Expect(leaf.CheckSignatureFrom(newCA)).To(Succeed(), "secret %s holds a leaf from the new CA", name+sn)
		}
	}
	expectServedFrom(ctx, ns, name, followingClientTLS(ctx, ns, name), newCA)
}

// expectServedFrom checks that every member serves, on its client and its
// peer port, a certificate ca signed, verifying each chain against ca
// alone; base is the client's TLS configuration (its certificate). The
// peer certificate names the members, not the client Service, so only the
// client port's server name is checked.
func expectServedFrom(ctx context.Context, ns, name string, base *tls.Config, ca *x509.Certificate) {
	GinkgoHelper()
	only := pemOf(ca)
	for _, ep := range podEndpoints(ctx, ns, name, "https") {
		host := strings.TrimPrefix(ep, "https://")
		ip, _, _ := net.SplitHostPort(host)
		for _, addr := range []string{host, net.JoinHostPort(ip, fmt.Sprint(etcdv1.PeerPort))} {
			serverName := base.ServerName
			if addr != host {
				serverName = ""
			}
			cfg := base.Clone()
			cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifyChain(cs, only, serverName) }
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", addr, cfg)
			Expect(err).NotTo(HaveOccurred(), "TLS dial %s", addr)
			served := conn.ConnectionState().PeerCertificates[0]
			_ = conn.Close()
			Expect(served.CheckSignatureFrom(ca)).To(Succeed(), "%s serves a certificate from %s (issuer %s)", addr, ca.Subject, served.Issuer)
		}
	}
}

// expectOldCARefused checks that every member refuses a client
// certificate the old CA signs (oldCA: its certificate and key); base is
// the client's TLS configuration, whose certificate is replaced.
func expectOldCARefused(ctx context.Context, ns, name string, base *tls.Config, oldCA pki.Pair) {
	GinkgoHelper()
	old, err := pki.Issue(oldCA, pki.LeafRequest{CommonName: "root", Client: true}, time.Now(), time.Hour)
	Expect(err).NotTo(HaveOccurred())
	pair, err := tls.X509KeyPair(old.CertPEM, old.KeyPEM)
	Expect(err).NotTo(HaveOccurred())
	oldCfg := base.Clone()
	oldCfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	for _, ep := range podEndpoints(ctx, ns, name, "https") {
		cl := etcdClient([]string{ep}, oldCfg)
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := cl.Get(octx, "/probe")
		cancel()
		Expect(err).To(HaveOccurred(), "%s accepted a client certificate from the old CA", ep)
	}
}

// mustParseCert parses one PEM certificate.
func mustParseCert(pemBytes []byte) *x509.Certificate {
	GinkgoHelper()
	c, err := pki.ParseCert(pemBytes)
	Expect(err).NotTo(HaveOccurred())
	return c
}

// caPair is the cluster CA Secret's current certificate and key.
func caPair(ctx context.Context, ns, name string) pki.Pair {
	GinkgoHelper()
	s := &corev1.Secret{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-ca"}, s)).To(Succeed())
	return pki.Pair{CertPEM: s.Data["tls.crt"], KeyPEM: s.Data["tls.key"]}
}
