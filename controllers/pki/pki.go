// Package pki issues the certificates of an etcd cluster: a self-signed CA
// and leaf certificates signed by it. Everything here is pure: the caller
// passes the clock, and the results are PEM bytes.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Pair is a certificate and its private key, PEM encoded.
type Pair struct {
	CertPEM []byte
	KeyPEM  []byte
}

// LeafRequest describes a leaf certificate.
type LeafRequest struct {
	CommonName string
	DNSNames   []string
	IPs        []net.IP
	// Server and Client select the extended key usages.
	Server bool
	Client bool
}

// NewCA creates a self-signed CA valid from now for validity.
func NewCA(commonName string, now time.Time, validity time.Duration) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("generating CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return Pair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"quorum"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Pair{}, fmt.Errorf("signing CA certificate: %w", err)
	}
	return encode(der, key)
}

// Issue signs a leaf certificate with the CA, valid from now for validity.
func Issue(ca Pair, req LeafRequest, now time.Time, validity time.Duration) (Pair, error) {
	caCert, caKey, err := Parse(ca)
	if err != nil {
		return Pair{}, fmt.Errorf("reading CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("generating key for %s: %w", req.CommonName, err)
	}
	serial, err := newSerial()
	if err != nil {
		return Pair{}, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(caCert.NotAfter) {
		notAfter = caCert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: req.CommonName},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames:     req.DNSNames,
		IPAddresses:  req.IPs,
	}
	if req.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if req.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return Pair{}, fmt.Errorf("signing certificate %s: %w", req.CommonName, err)
	}
	return encode(der, key)
}

// Parse decodes a pair into its certificate and signer.
func Parse(p Pair) (*x509.Certificate, crypto.Signer, error) {
	cert, err := ParseCert(p.CertPEM)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(p.KeyPEM)
	if block == nil {
		return nil, nil, errors.New("no PEM block in private key")
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing private key: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("private key does not match certificate")
	}
	return cert, key, nil
}

// ParseBundle decodes every certificate of a PEM bundle, in order; other
// PEM blocks are skipped. An empty bundle or one that does not parse is an
// error.
func ParseBundle(bundlePEM []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := bundlePEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate %d of the bundle: %w", len(out)+1, err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate in the bundle")
	}
	return out, nil
}

// ParseCert decodes the first certificate of a PEM bundle.
func ParseCert(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate: %w", err)
	}
	return cert, nil
}

// Valid reports whether leaf is signed by ca, carries exactly the wanted
// DNS names and IP addresses (a name or address no longer wanted also
// calls for a new certificate: it was dropped from the cluster's spec), and
// stays valid for at least renewBefore after now, or already expires with
// the CA (a renewal could not last longer). A false answer comes with the
// reason, for events.
func Valid(leafPEM, caPEM []byte, dnsNames []string, ips []net.IP, now time.Time, renewBefore time.Duration) (bool, string) {
	leaf, err := ParseCert(leafPEM)
	if err != nil {
		return false, err.Error()
	}
	ca, err := ParseCert(caPEM)
	if err != nil {
		return false, "CA: " + err.Error()
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return false, "not signed by the current CA"
	}
	// A leaf already lasting as long as its CA is not renewed: a new one
	// would be capped at the CA's expiry too (Issue), so renewing it in
	// the CA's last renewBefore would re-issue it on every pass. Only a
	// new CA (a rotation) helps then.
	if now.Add(renewBefore).After(leaf.NotAfter) && leaf.NotAfter.Before(ca.NotAfter) {
		return false, fmt.Sprintf("expires at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if d := setDiff("DNS name", leaf.DNSNames, dnsNames); d != "" {
		return false, d
	}
	if d := setDiff("IP address", ipStrings(leaf.IPAddresses), ipStrings(ips)); d != "" {
		return false, d
	}
	return true, ""
}

// setDiff names the first wanted entry have lacks, else the first entry
// of have no longer wanted, else returns "".
func setDiff(what string, have, want []string) string {
	h, w := map[string]bool{}, map[string]bool{}
	for _, n := range have {
		h[n] = true
	}
	for _, n := range want {
		w[n] = true
		if !h[n] {
			return "missing " + what + " " + n
		}
	}
	for _, n := range have {
		if !w[n] {
			return "unwanted " + what + " " + n
		}
	}
	return ""
}

// ipStrings are the canonical forms of ips (an IPv4 address in its
// 16-byte form and its 4-byte form compare equal).
func ipStrings(ips []net.IP) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating serial: %w", err)
	}
	return s, nil
}

func encode(der []byte, key *ecdsa.PrivateKey) (Pair, error) {
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Pair{}, fmt.Errorf("encoding key: %w", err)
	}
	return Pair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
	}, nil
}
