package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"
)

func TestIssueAndValid(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ca, err := NewCA("test-ca", now, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA("other-ca", now, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"*.demo-peer.default.svc.cluster.local", "demo-client"}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("198.18.0.2")}
	leaf, err := Issue(ca, LeafRequest{CommonName: "demo", DNSNames: names, IPs: ips, Server: true, Client: true}, now, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM); err != nil {
		t.Fatalf("leaf is not a usable key pair: %v", err)
	}
	cert, err := ParseCert(leaf.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "demo-0.demo-peer.default.svc.cluster.local", CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Fatalf("verify usage %v: %v", usage, err)
		}
	}

	cases := []struct {
		name        string
		ca          []byte
		names       []string
		ips         []net.IP
		at          time.Time
		renewBefore time.Duration
		ok          bool
		reason      string
	}{
		{"fresh", ca.CertPEM, names, ips, now, 30 * 24 * time.Hour, true, ""},
		{"same names in another order, IPv4 in 4-byte form", ca.CertPEM, []string{names[1], names[0]}, []net.IP{net.IPv4(198, 18, 0, 2).To4(), net.IPv4(127, 0, 0, 1)}, now, time.Hour, true, ""},
		{"other CA", other.CertPEM, names, ips, now, time.Hour, false, "not signed"},
		{"near expiry", ca.CertPEM, names, ips, now.Add(70 * 24 * time.Hour), 30 * 24 * time.Hour, false, "expires"},
		{"missing name", ca.CertPEM, append([]string{"new.example"}, names...), ips, now, time.Hour, false, "missing DNS name new.example"},
		{"name no longer wanted", ca.CertPEM, names[:1], ips, now, time.Hour, false, "unwanted DNS name demo-client"},
		{"missing IP", ca.CertPEM, names, append([]net.IP{net.ParseIP("198.19.0.1")}, ips...), now, time.Hour, false, "missing IP address 198.19.0.1"},
		{"IP no longer wanted", ca.CertPEM, names, ips[:1], now, time.Hour, false, "unwanted IP address 198.18.0.2"},
		{"garbage CA", []byte("nope"), names, ips, now, time.Hour, false, "CA:"},
	}
	for _, tc := range cases {
		ok, reason := Valid(leaf.CertPEM, tc.ca, tc.names, tc.ips, tc.at, tc.renewBefore)
		if ok != tc.ok || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: Valid = %v %q, want %v containing %q", tc.name, ok, reason, tc.ok, tc.reason)
		}
	}
}

func TestLeafNeverOutlivesCA(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("short", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := Issue(ca, LeafRequest{CommonName: "x", Server: true}, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ParseCert(leaf.CertPEM)
	caCert, _ := ParseCert(ca.CertPEM)
	if c.NotAfter.After(caCert.NotAfter) {
		t.Fatalf("leaf NotAfter %v after CA NotAfter %v", c.NotAfter, caCert.NotAfter)
	}
}

func TestParseRejectsMismatchedKey(t *testing.T) {
	now := time.Now()
	a, _ := NewCA("a", now, time.Hour)
	b, _ := NewCA("b", now, time.Hour)
	if _, _, err := Parse(Pair{CertPEM: a.CertPEM, KeyPEM: b.KeyPEM}); err == nil {
		t.Fatal("want error for mismatched key")
	}
	if _, _, err := Parse(Pair{CertPEM: []byte("x"), KeyPEM: a.KeyPEM}); err == nil {
		t.Fatal("want error for garbage cert")
	}
}

// In the CA's last renewBefore, a leaf is capped at the CA's expiry; it is
// re-issued once (to reach the cap) and then taken as valid, not re-issued
// on every pass (issue #15: a hot loop of Secret updates).
func TestLeafCappedAtCAIsNotRenewedAgain(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ca, err := NewCA("ca", start, 100*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	renew := 30 * 24 * time.Hour
	leaf, err := Issue(ca, LeafRequest{CommonName: "x", Server: true}, start, 50*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	inWindow := start.Add(80 * 24 * time.Hour)
	if ok, why := Valid(leaf.CertPEM, ca.CertPEM, nil, nil, start.Add(25*24*time.Hour), renew); ok || !strings.Contains(why, "expires") {
		t.Fatalf("a leaf expiring before its CA, inside its renewal window: Valid = %v %q, want a renewal", ok, why)
	}
	capped, err := Issue(ca, LeafRequest{CommonName: "x", Server: true}, inWindow, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{inWindow, inWindow.Add(time.Hour), start.Add(99 * 24 * time.Hour)} {
		if ok, why := Valid(capped.CertPEM, ca.CertPEM, nil, nil, at, renew); !ok {
			t.Errorf("at %s a leaf capped at its CA's expiry: Valid = false %q, want true (a new one would be capped the same)", at, why)
		}
	}
}

func TestParseBundle(t *testing.T) {
	now := time.Now()
	a, _ := NewCA("a", now, time.Hour)
	b, _ := NewCA("b", now, time.Hour)
	certs, err := ParseBundle(append(append([]byte{}, a.CertPEM...), b.CertPEM...))
	if err != nil || len(certs) != 2 || certs[0].Subject.CommonName != "a" || certs[1].Subject.CommonName != "b" {
		t.Fatalf("ParseBundle(a+b) = %v, %v; want [a b]", certs, err)
	}
	if _, err := ParseBundle([]byte("nope")); err == nil {
		t.Fatal("want an error for a bundle without certificates")
	}
}
