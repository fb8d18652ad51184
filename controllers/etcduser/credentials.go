package etcduser

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/internal/rootclient"
	"quorum.dev/etcd-operator/controllers/pki"
)

// Keys of the credentials Secret (EtcdUser.CredentialsSecretName).
const (
	// KeyEndpoint is the client Service's URL; KeyEndpoints the members'
	// client URLs, comma-separated (what etcdctl --endpoints takes).
	KeyEndpoint  = "endpoint"
	KeyEndpoints = "endpoints"
	// KeyUsername and KeyPassword: password users only.
	KeyUsername = "username"
	KeyPassword = "password"
)

// Client certificates of users: valid for certValidity, renewed
// certRenewBefore before they expire.
const (
	certValidity    = 90 * 24 * time.Hour
	certRenewBefore = 30 * 24 * time.Hour
)

// credentials is what the Secret should hold, and whether the password is
// new (so etcd must be told).
type credentials struct {
	data        map[string][]byte
	newPassword bool
	notAfter    time.Time // zero without a certificate
}

// certificateCN is the common name of the user's certificate: the user
// name for certificate users (etcd takes it as the user), empty for
// password users' transport certificates (a CN would make etcd take the
// certificate as that user, and etcd's gRPC gateway refuses a request
// whose certificate carries one).
func certificateCN(u *etcdv1.EtcdUser) string {
	if u.AuthenticationMethod() == etcdv1.AuthenticationCertificate {
		return u.Name
	}
	return ""
}

// desiredCredentials decides the Secret's data from the existing one (nil
// when missing): a password is kept once made; a certificate is kept while
// it is signed by ca, has the right common name and stays valid for
// certRenewBefore, else re-issued. ca is empty when the cluster serves
// plain http (no certificate then). trust is the cluster's ca.crt (the
// old and the new CA during a CA rotation), written as the Secret's
// ca.crt; ca alone when empty.
func desiredCredentials(u *etcdv1.EtcdUser, c *etcdv1.EtcdCluster, domain string, existing *corev1.Secret, ca pki.Pair, trust []byte, now time.Time) (credentials, error) {
	old := map[string][]byte{}
	if existing != nil {
		old = existing.Data
	}
	out := credentials{data: map[string][]byte{
		KeyEndpoint:  []byte(c.ClientEndpoint(domain)),
		KeyEndpoints: []byte(strings.Join(memberURLs(c, domain), ",")),
	}}
	if u.AuthenticationMethod() == etcdv1.AuthenticationPassword {
		pw := string(old[KeyPassword])
		if pw == "" {
			var err error
			if pw, err = newPassword(); err != nil {
				return out, err
			}
			out.newPassword = true
		}
		out.data[KeyUsername], out.data[KeyPassword] = []byte(u.Name), []byte(pw)
	}
	if len(ca.CertPEM) == 0 {
		return out, nil
	}
	out.data[rootclient.KeyCACert] = ca.CertPEM
	if len(trust) > 0 {
		out.data[rootclient.KeyCACert] = trust
	}
	certPEM, keyPEM := old[corev1.TLSCertKey], old[corev1.TLSPrivateKeyKey]
	if ok, _ := pki.Valid(certPEM, ca.CertPEM, nil, nil, now, certRenewBefore); !ok || !hasCN(certPEM, certificateCN(u)) || len(keyPEM) == 0 {
		leaf, err := pki.Issue(ca, pki.LeafRequest{CommonName: certificateCN(u), Client: true}, now, certValidity)
		if err != nil {
			return out, fmt.Errorf("issuing the client certificate of %s: %w", u.Name, err)
		}
		certPEM, keyPEM = leaf.CertPEM, leaf.KeyPEM
	}
	out.data[corev1.TLSCertKey], out.data[corev1.TLSPrivateKeyKey] = certPEM, keyPEM
	cert, err := pki.ParseCert(certPEM)
	if err != nil {
		return out, err
	}
	out.notAfter = cert.NotAfter
	return out, nil
}

func hasCN(certPEM []byte, cn string) bool {
	cert, err := pki.ParseCert(certPEM)
	return err == nil && cert.Subject.CommonName == cn
}

// sameData reports whether the Secret already holds data.
func sameData(s *corev1.Secret, data map[string][]byte) bool {
	if s == nil || len(s.Data) != len(data) {
		return false
	}
	for k, v := range data {
		if !bytes.Equal(s.Data[k], v) {
			return false
		}
	}
	return true
}

// memberURLs are the client URLs of the cluster's members (spec.replicas).
func memberURLs(c *etcdv1.EtcdCluster, domain string) []string {
	var out []string
	for i := 0; i < int(c.DesiredReplicas()); i++ {
		out = append(out, c.MemberClientURL(i, domain))
	}
	return out
}

// newPassword is 24 random bytes, URL-safe base64 (32 characters).
func newPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// etcdUser is the etcd user and role u asks for; password is the
// Secret's (password users).
func etcdUser(u *etcdv1.EtcdUser, creds credentials) etcdclient.User {
	out := etcdclient.User{Name: u.Name, Role: u.RoleName(), ResetPassword: creds.newPassword}
	if u.AuthenticationMethod() == etcdv1.AuthenticationPassword {
		out.Password = string(creds.data[KeyPassword])
	}
	for _, p := range u.Spec.Permissions {
		key, end := p.Range()
		out.Permissions = append(out.Permissions, etcdclient.Permission{Key: key, RangeEnd: end, Type: permType(p.Permission)})
	}
	return out
}

func permType(p etcdv1.UserPermission) etcdclient.PermissionType {
	switch p {
	case etcdv1.PermissionWrite:
		return etcdclient.PermWrite
	case etcdv1.PermissionReadWrite:
		return etcdclient.PermReadWrite
	}
	return etcdclient.PermRead
}
