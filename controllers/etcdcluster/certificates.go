package etcdcluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
)

// Certificate lifetimes. Leaves are renewed a month before they expire;
// members pick renewed files up on their next TLS handshake.
const (
	caValidity       = 10 * 365 * 24 * time.Hour
	leafValidity     = 365 * 24 * time.Hour
	leafRenewBefore  = 30 * 24 * time.Hour
	keyCACert        = "ca.crt"
	rootUserName     = "root"
	reasonCertIssued = "CertificateIssued"
	// reasonTrustUpdated: a Secret's ca.crt changed, its key pair kept.
	reasonTrustUpdated = "TrustedCAsUpdated"
)

// leafRequests are the three leaf certificates of a cluster: the member's
// server certificate (also usable as a client, for members joining through
// the cluster API), the peer certificate, and the root client certificate.
// The server certificate also carries spec.tls.extraSANs (names and
// addresses clients outside the cluster dial); a change of them re-issues
// it (ensureLeaf compares the exact sets).
func leafRequests(c *etcdv1.EtcdCluster, domain string) map[string]pki.LeafRequest {
	peerNames := []string{
		fmt.Sprintf("*.%s.%s.svc.%s", c.PeerServiceName(), c.Namespace, domain),
		fmt.Sprintf("*.%s.%s.svc", c.PeerServiceName(), c.Namespace),
	}
	serverNames := append([]string{
		c.ClientServiceName(),
		fmt.Sprintf("%s.%s", c.ClientServiceName(), c.Namespace),
		fmt.Sprintf("%s.%s.svc", c.ClientServiceName(), c.Namespace),
		fmt.Sprintf("%s.%s.svc.%s", c.ClientServiceName(), c.Namespace, domain),
		"localhost",
	}, peerNames...)
	serverIPs := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, san := range c.Spec.TLS.ExtraSANs {
		if ip := net.ParseIP(san); ip != nil {
			serverIPs = append(serverIPs, ip)
		} else {
			serverNames = append(serverNames, san)
		}
	}
	return map[string]pki.LeafRequest{
		c.OperatorServerSecretName(): {CommonName: c.Name + "-server", DNSNames: serverNames, IPs: serverIPs, Server: true, Client: true},
		c.OperatorPeerSecretName():   {CommonName: c.Name + "-peer", DNSNames: peerNames, Server: true, Client: true},
		c.OperatorClientSecretName(): {CommonName: rootUserName, Client: true},
	}
}

// ensureCertificates makes sure the CA and the leaf Secrets exist and are
// valid: signed by the CA that signs now, carrying every needed name and
// not near expiry, with the CA Secret's trust bundle as ca.crt. A leaf
// that fails a check is re-issued in place; one whose ca.crt alone
// differs (a CA rotation's bundle) keeps its key pair. It records what
// the CA rotation step and the renderers need in p.ca, and the CA's
// expiry in the status. With the user's Secrets it checks them instead.
// Which Secrets members mount follows a switch of certificate sources
// pending or under way (certswitch.go): status.tlsSecrets names them
// when they are not spec.tls's, and the renderers read it.
func (r *Reconciler) ensureCertificates(ctx context.Context, p *pass) error {
	c := p.cluster
	if !c.TLSEnabled() {
		c.Status.CertificateAuthority, c.Status.TLSSecrets = nil, nil
		return nil
	}
	if c.CertManagerCertificates() {
		// cert-manager's Secrets, never switched (admission keeps
		// spec.tls.certManager as it was at creation).
		c.Status.CertificateAuthority, c.Status.TLSSecrets = nil, nil
		return r.ensureCertManagerCertificates(ctx, p)
	}
	sw, err := r.readCertSwitch(ctx, p)
	if err != nil {
		return err
	}
	p.certSwitch = sw
	mounts := sw.mounts(c)
	c.Status.TLSSecrets = nil // the spec's names next
	if spec := (etcdv1.TLSSecretsStatus{Server: c.ServerSecretName(), Peer: c.PeerSecretName(), Client: c.ClientSecretName()}); mounts.Server != spec.Server ||
		mounts.Peer != spec.Peer || mounts.Client != spec.Client {
		c.Status.TLSSecrets = &mounts
	}
	if mounts.Server != c.OperatorServerSecretName() {
		// Members mount the user's Secrets.
		if !sw.recorded() {
			c.Status.CertificateAuthority = nil
		} else {
			switchStatus(c, sw)
		}
		secrets, err := r.checkUserCertificates(ctx, c)
		p.userSecrets = secrets
		if err != nil {
			return err
		}
		if why := unusableUserSecrets(c, mounts, secrets, c.MemberHost(0, r.Render.Domain()), r.now()); why != "" && p.certIssuance == nil {
			// Reported, not a stop: members may still run on them (an
			// expired leaf, say), and a fixed Secret reaches them without
			// a restart.
			p.certIssuance = &specError{etcdv1.ReasonCertificateInvalid, fmt.Sprintf("the members' TLS Secrets cannot serve the cluster: %s; "+
				"members and clients refuse such certificates in their TLS handshakes. Correct the Secrets: members read them again on their next handshake, without a restart", why)}
		}
		sw.leavesCurrent = true
		return nil
	}
	now := r.now()
	ca, err := r.ensureCA(ctx, c, sw.caSecret, now)
	if err != nil {
		return err
	}
	if sw.recorded() {
		if err := r.ensureSwitchLeaves(ctx, c, sw, ca, now); err != nil {
			return err
		}
	} else {
		for name, req := range leafRequests(c, r.Render.Domain()) {
			if err := r.ensureLeaf(ctx, c, name, ca, req, now); err != nil {
				return err
			}
		}
	}
	ca.leavesCurrent, sw.leavesCurrent = true, true
	p.ca = ca
	if c.Status.CertificateAuthority == nil {
		c.Status.CertificateAuthority = &etcdv1.CertificateAuthorityStatus{}
	}
	na := metav1.NewTime(ca.signerCert.NotAfter)
	c.Status.CertificateAuthority.NotAfter = &na
	if sw.recorded() {
		switchStatus(c, sw)
	}
	return nil
}

// ensureCA returns the CA Secret s as read (readCertSwitch reads it: from
// the API server while a CA rotation or a switch is recorded, since a
// lagging cache would show the Secret from before its last step and clear
// the record; the cache is fine otherwise: a step written on a stale copy
// fails on its resourceVersion), or makes it when there is none.
func (r *Reconciler) ensureCA(ctx context.Context, c *etcdv1.EtcdCluster, s *corev1.Secret, now time.Time) (*caState, error) {
	if s != nil {
		return readCASecret(s)
	}
	ca, err := pki.NewCA(caCommonName(c), now, caValidity)
	if err != nil {
		return nil, err
	}
	if err := r.writeSecret(ctx, c, nil, c.CASecretName(), ca, ca.CertPEM); err != nil {
		return nil, err
	}
	// Just created (the cache may not have it yet): what was written.
	return readCASecret(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: c.CASecretName(), Namespace: c.Namespace},
		Data: map[string][]byte{corev1.TLSCertKey: ca.CertPEM, corev1.TLSPrivateKeyKey: ca.KeyPEM, keyCACert: ca.CertPEM}})
}

func caCommonName(c *etcdv1.EtcdCluster) string {
	return fmt.Sprintf("%s.%s etcd CA", c.Name, c.Namespace)
}

func (r *Reconciler) ensureLeaf(ctx context.Context, c *etcdv1.EtcdCluster, name string, ca *caState, req pki.LeafRequest, now time.Time) error {
	s, err := r.getSecret(ctx, c, name)
	if err != nil {
		return err
	}
	if s != nil {
		ok, why := pki.Valid(s.Data[corev1.TLSCertKey], ca.signer.CertPEM, req.DNSNames, req.IPs, now, leafRenewBefore)
		switch {
		case ok && bytes.Equal(s.Data[keyCACert], ca.bundle):
			return nil
		case ok:
			// Only the trusted CAs changed (a CA rotation): the key pair
			// stays, so that no certificate is issued for nothing.
			log.FromContext(ctx).V(1).Info("updating the trusted CAs", "secret", name)
			pair := pki.Pair{CertPEM: s.Data[corev1.TLSCertKey], KeyPEM: s.Data[corev1.TLSPrivateKeyKey]}
			return r.writeSecret(ctx, c, s, name, pair, ca.bundle)
		}
		log.FromContext(ctx).V(1).Info("re-issuing certificate", "secret", name, "why", why)
	}
	leaf, err := pki.Issue(ca.signer, req, now, leafValidity)
	if err != nil {
		return err
	}
	return r.writeSecret(ctx, c, s, name, leaf, ca.bundle)
}

// getSecret returns the Secret from the cache, or nil when it does not
// exist.
func (r *Reconciler) getSecret(ctx context.Context, c *etcdv1.EtcdCluster, name string) (*corev1.Secret, error) {
	return r.readSecret(ctx, c, name, false)
}

// readSecret returns the Secret, from the API server when fromAPI, else
// from the cache, or nil when it does not exist; it exports the expiry of
// the certificate it holds.
func (r *Reconciler) readSecret(ctx context.Context, c *etcdv1.EtcdCluster, name string, fromAPI bool) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	err := r.reader(fromAPI).Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading secret %s: %w", name, err)
	}
	recordCertificateExpiry(c, s)
	return s, nil
}

// writeSecret creates the Secret (existing == nil) or replaces its data.
// Certificates are random, so they are written once rather than applied on
// every pass.
func (r *Reconciler) writeSecret(ctx context.Context, c *etcdv1.EtcdCluster, existing *corev1.Secret, name string, pair pki.Pair, caPEM []byte) error {
	data := map[string][]byte{corev1.TLSCertKey: pair.CertPEM, corev1.TLSPrivateKeyKey: pair.KeyPEM, keyCACert: caPEM}
	if existing != nil {
		sameLeaf := bytes.Equal(existing.Data[corev1.TLSCertKey], pair.CertPEM)
		existing.Data = data
		if err := r.Update(ctx, existing); err != nil {
			return fmt.Errorf("renewing secret %s: %w", name, err)
		}
		if sameLeaf {
			r.Recorder.Eventf(c, existing, corev1.EventTypeNormal, reasonTrustUpdated, "UpdateTrustedCAs", "updated the trusted CAs (ca.crt) in secret %s", name)
			return nil
		}
		r.Recorder.Eventf(c, existing, corev1.EventTypeNormal, reasonCertIssued, "RenewCertificate", "renewed certificate in secret %s", name)
		return nil
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: c.Labels()},
		Type:       corev1.SecretTypeTLS,
		Data:       data,
	}
	if err := controllerutil.SetControllerReference(c, s, r.Scheme); err != nil {
		return err
	}
	if err := r.Create(ctx, s); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("secret %s exists but is not managed by this cluster (it lacks the label %s=%s)", name, etcdv1.LabelManagedBy, etcdv1.ManagedByValue)
		}
		return fmt.Errorf("creating secret %s: %w", name, err)
	}
	r.Recorder.Eventf(c, s, corev1.EventTypeNormal, reasonCertIssued, "IssueCertificate", "issued certificate in secret %s", name)
	return nil
}

// checkUserCertificates makes sure the user's Secrets exist and hold what
// members need, so that a typo shows up as a condition, not a pod that
// cannot start. It returns the Secrets (server, peer, client) when all
// pass, for the expiry check.
func (r *Reconciler) checkUserCertificates(ctx context.Context, c *etcdv1.EtcdCluster) ([]*corev1.Secret, error) {
	names := []string{c.ServerSecretName(), c.PeerSecretName(), c.ClientSecretName()}
	got, err := r.readSecretsByName(ctx, c, names...)
	if err != nil {
		return nil, err
	}
	var secrets []*corev1.Secret
	for _, name := range names {
		s := got[name]
		if s == nil {
			return nil, &specError{etcdv1.ReasonCertificateInvalid, fmt.Sprintf("TLS secret %s not found", name)}
		}
		if why := incompleteTLSSecret(s); why != "" {
			return nil, &specError{etcdv1.ReasonCertificateInvalid, fmt.Sprintf("TLS secret %s %s", name, why)}
		}
		recordCertificateExpiry(c, s)
		secrets = append(secrets, s)
	}
	return secrets, nil
}

// unusableUserSecrets checks the user's Secrets members mount (names)
// with the checks of a switch (checkSwitchSecrets): key pairs, chains to
// their own and each other's ca.crt, the members' host names, usages, and
// the client's common name when etcd authentication takes it as the user.
// It returns the first problem, "" when none.
func unusableUserSecrets(c *etcdv1.EtcdCluster, names etcdv1.TLSSecretsStatus, secrets []*corev1.Secret, host string, now time.Time) string {
	got := map[string]*corev1.Secret{}
	for _, s := range secrets {
		got[s.Name] = s
	}
	_, why := checkSwitchSecrets(c, names, got, host, now)
	return why
}
