package etcdcluster

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
)

func TestAdvanceCertSwitch(t *testing.T) {
	const op, sec = etcdv1.CertificateSourceOperator, etcdv1.CertificateSourceSecrets
	ready := func(in switchInput) switchInput {
		in.LeavesCurrent, in.RolledOut, in.AllHealthy = true, true, true
		return in
	}
	cases := []struct {
		name    string
		in      switchInput
		action  caAction
		refused bool
		msg     string
	}{
		{"new cluster: nothing to switch", ready(switchInput{Wanted: sec}), caNothing, false, ""},
		{"running on what is wanted", ready(switchInput{Running: op, Wanted: op}), caNothing, false, ""},
		{"user Secrets kept", ready(switchInput{Running: sec, Wanted: sec}), caNothing, false, ""},
		{"to the user's Secrets: start", ready(switchInput{Running: op, Wanted: sec}), caStart, false, "from Operator to Secrets 1/3 TrustBoth"},
		{"to the operator: start", ready(switchInput{Running: sec, Wanted: op}), caStart, false, "from Secrets to Operator 1/3 TrustBoth"},
		{"start needs no health (restarts are health-gated)", switchInput{Running: op, Wanted: sec}, caStart, false, "TrustBoth"},
		{"user Secrets missing: refused, old source kept", ready(switchInput{Running: op, Wanted: sec, Invalid: "the server Secret s is not found"}), caNothing, true,
			"refused: the server Secret s is not found; members keep their certificates from Operator"},
		{"switch back with the user's Secrets gone: refused", ready(switchInput{Running: sec, Wanted: op, Invalid: "x"}), caNothing, true, "keep their certificates from Secrets"},
		{"a CA rotation under way: wait", ready(switchInput{Running: op, Wanted: sec, Rotating: etcdv1.CARotationIssueFromNew}), caNothing, false, "waits for the CA rotation under way (phase IssueFromNew)"},
		{"refusal is told before a rotation wait", ready(switchInput{Running: op, Wanted: sec, Rotating: etcdv1.CARotationTrustBoth, Invalid: "x"}), caNothing, true, "refused"},
		{"TLS migration: wait", ready(switchInput{Running: op, Wanted: sec, Busy: "the TLS migration"}), caNothing, false, "waits for the TLS migration"},
		{"TrustBoth, Secrets not yet written", switchInput{Recorded: sec, Phase: etcdv1.CARotationTrustBoth, Running: op, Wanted: sec, RolledOut: true, AllHealthy: true}, caNothing, false, "updating the certificate Secrets"},
		{"TrustBoth, restarting", switchInput{Recorded: sec, Phase: etcdv1.CARotationTrustBoth, Running: op, Wanted: sec, LeavesCurrent: true, AllHealthy: true}, caNothing, false, "restarting members one at a time, leader last"},
		{"TrustBoth, a member unhealthy", switchInput{Recorded: sec, Phase: etcdv1.CARotationTrustBoth, Running: op, Wanted: sec, LeavesCurrent: true, RolledOut: true}, caNothing, false, "healthy"},
		{"TrustBoth done", ready(switchInput{Recorded: sec, Phase: etcdv1.CARotationTrustBoth, Running: op, Wanted: sec}), caPromote, false, "2/3 IssueFromNew: the user's Secrets' CA signs"},
		{"TrustBoth done, a busy operation does not hold a switch under way", ready(switchInput{Recorded: sec, Phase: etcdv1.CARotationTrustBoth, Running: op, Wanted: sec, Busy: "x"}), caPromote, false, "IssueFromNew"},
		{"TrustBoth done, its Secrets invalid now: the phases' own gates decide", ready(switchInput{Recorded: op, Phase: etcdv1.CARotationTrustBoth, Running: op, Wanted: op, Invalid: "x"}), caPromote, false, "from Secrets to Operator 2/3"},
		{"IssueFromNew done", ready(switchInput{Recorded: sec, Phase: etcdv1.CARotationIssueFromNew, Running: op, Wanted: sec}), caDropOld, false, "3/3 DropOld: the operator's CA is no longer trusted"},
		{"IssueFromNew, restarting", switchInput{Recorded: op, Phase: etcdv1.CARotationIssueFromNew, Running: op, Wanted: op, LeavesCurrent: true}, caNothing, false, "restarting"},
		{"DropOld, restarting", switchInput{Recorded: sec, Phase: etcdv1.CARotationDropOld, Running: sec, Wanted: sec, LeavesCurrent: true, AllHealthy: true}, caNothing, false, "trust the user's Secrets' CA only"},
		{"DropOld done", ready(switchInput{Recorded: sec, Phase: etcdv1.CARotationDropOld, Running: sec, Wanted: sec}), caFinish, false, "switch of certificate sources from Operator to Secrets done"},
		{"to the operator, DropOld done", ready(switchInput{Recorded: op, Phase: etcdv1.CARotationDropOld, Running: op, Wanted: op}), caFinish, false, "from Secrets to Operator done"},
		{"spec changed back mid-way: carried to its end first", ready(switchInput{Recorded: sec, Phase: etcdv1.CARotationIssueFromNew, Running: op, Wanted: op}), caDropOld, false, "a switch back follows"},
	}
	for _, tc := range cases {
		got := advanceCertSwitch(tc.in)
		if got.Action != tc.action || got.Refused != tc.refused || !strings.Contains(got.Message, tc.msg) || (tc.msg == "" && got.Message != "") {
			t.Errorf("%s: advanceCertSwitch = %+v, want action %q refused %v message containing %q", tc.name, got, tc.action, tc.refused, tc.msg)
		}
	}
}

func TestRunningSource(t *testing.T) {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db"}}
	vol := func(name, secret string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}
	}
	cases := []struct {
		name string
		vols []corev1.Volume
		want etcdv1.CertificateSource
	}{
		{"no TLS", nil, ""},
		{"operator's", []corev1.Volume{vol("server-tls", "db-server-tls"), vol("peer-tls", "db-peer-tls"), vol("client-tls", "db-client-tls")}, etcdv1.CertificateSourceOperator},
		{"user's", []corev1.Volume{vol("server-tls", "mine-s"), vol("peer-tls", "mine-p"), vol("client-tls", "mine-c")}, etcdv1.CertificateSourceSecrets},
	}
	for _, tc := range cases {
		got, names := runningSource(c, &corev1.PodSpec{Volumes: tc.vols})
		if got != tc.want || (got != "" && (names.Peer == "" || names.Client == "")) {
			t.Errorf("%s: runningSource = %q %+v, want %q", tc.name, got, names, tc.want)
		}
	}
}

// userPKI issues the three Secrets of cluster c from a fresh CA with the
// names leafRequests gives; mutate may spoil them.
func userPKI(t *testing.T, c *etcdv1.EtcdCluster, now time.Time) (map[string]*corev1.Secret, pki.Pair) {
	t.Helper()
	ca, err := pki.NewCA("user CA", now.Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	reqs := leafRequests(c, etcdv1.DefaultClusterDomain)
	out := map[string]*corev1.Secret{}
	for own, user := range map[string]string{c.OperatorServerSecretName(): "u-server", c.OperatorPeerSecretName(): "u-peer", c.OperatorClientSecretName(): "u-client"} {
		leaf, err := pki.Issue(ca, reqs[own], now.Add(-time.Hour), 12*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		out[user] = &corev1.Secret{Data: map[string][]byte{corev1.TLSCertKey: leaf.CertPEM, corev1.TLSPrivateKeyKey: leaf.KeyPEM, keyCACert: ca.CertPEM}}
	}
	return out, ca
}

func TestCheckSwitchSecrets(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}}
	names := etcdv1.TLSSecretsStatus{Server: "u-server", Peer: "u-peer", Client: "u-client"}
	host := c.MemberHost(0, etcdv1.DefaultClusterDomain)
	other, err := pki.NewCA("other CA", now.Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		spoil  func(s map[string]*corev1.Secret, ca pki.Pair)
		at     time.Time
		reason string
	}{
		{"valid", func(map[string]*corev1.Secret, pki.Pair) {}, now, ""},
		{"missing", func(s map[string]*corev1.Secret, _ pki.Pair) { delete(s, "u-peer") }, now, "the peer Secret u-peer is not found"},
		{"no ca.crt", func(s map[string]*corev1.Secret, _ pki.Pair) { delete(s["u-client"].Data, keyCACert) }, now, "u-client has no ca.crt"},
		{"key of another certificate", func(s map[string]*corev1.Secret, _ pki.Pair) {
			s["u-server"].Data[corev1.TLSPrivateKeyKey] = s["u-peer"].Data[corev1.TLSPrivateKeyKey]
		}, now, "not a key pair"},
		{"ca.crt of another CA", func(s map[string]*corev1.Secret, _ pki.Pair) { s["u-peer"].Data[keyCACert] = other.CertPEM }, now, "does not verify against its own ca.crt"},
		{"expired", func(map[string]*corev1.Secret, pki.Pair) {}, now.Add(13 * time.Hour), "does not verify"},
		{"server leaf without the members' names", func(s map[string]*corev1.Secret, ca pki.Pair) {
			leaf, _ := pki.Issue(ca, pki.LeafRequest{CommonName: "x", DNSNames: []string{"elsewhere.example"}, Server: true, Client: true}, now.Add(-time.Hour), time.Hour)
			s["u-server"].Data[corev1.TLSCertKey], s["u-server"].Data[corev1.TLSPrivateKeyKey] = leaf.CertPEM, leaf.KeyPEM
		}, now, "does not name the members' host names (" + host},
		{"peer leaf for servers only", func(s map[string]*corev1.Secret, ca pki.Pair) {
			leaf, _ := pki.Issue(ca, pki.LeafRequest{CommonName: "x", DNSNames: []string{"*.db-peer.ns.svc.cluster.local"}, Server: true}, now.Add(-time.Hour), time.Hour)
			s["u-peer"].Data[corev1.TLSCertKey], s["u-peer"].Data[corev1.TLSPrivateKeyKey] = leaf.CertPEM, leaf.KeyPEM
		}, now, "for peer use"},
		{"client not root", func(s map[string]*corev1.Secret, ca pki.Pair) {
			leaf, _ := pki.Issue(ca, pki.LeafRequest{CommonName: "alice", Client: true}, now.Add(-time.Hour), time.Hour)
			s["u-client"].Data[corev1.TLSCertKey], s["u-client"].Data[corev1.TLSPrivateKeyKey] = leaf.CertPEM, leaf.KeyPEM
		}, now, `common name is "alice", not "root"`},
		{"client from another CA than the server trusts", func(s map[string]*corev1.Secret, _ pki.Pair) {
			leaf, _ := pki.Issue(other, pki.LeafRequest{CommonName: "root", Client: true}, now.Add(-time.Hour), time.Hour)
			s["u-client"].Data[corev1.TLSCertKey], s["u-client"].Data[corev1.TLSPrivateKeyKey], s["u-client"].Data[keyCACert] = leaf.CertPEM, leaf.KeyPEM, other.CertPEM
		}, now, "does not verify against the ca.crt of Secret u-"},
	}
	for _, tc := range cases {
		s, ca := userPKI(t, c, now)
		tc.spoil(s, ca)
		got, reason := checkSwitchSecrets(c, names, s, host, tc.at)
		if (tc.reason == "" && reason != "") || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: checkSwitchSecrets = %q, want %q", tc.name, reason, tc.reason)
		}
		if tc.reason == "" {
			if len(got.pairs) != 3 || string(got.pairs[c.OperatorPeerSecretName()].CertPEM) != string(s["u-peer"].Data[corev1.TLSCertKey]) {
				t.Errorf("%s: pairs %v not the user's by the operator's Secret names", tc.name, got.pairs)
			}
			if cas, err := pki.ParseBundle(got.ca); err != nil || len(cas) != 1 {
				t.Errorf("%s: the user's CAs = %d (%v), want the one CA once", tc.name, len(cas), err)
			}
		}
	}
}

// Moving from one set of user Secrets to another: allowed with ordinary
// restarts when both sets trust each other (the same CA, or bundles that
// hold both), refused with the way through the operator's CA otherwise.
func TestCheckRename(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}}
	host := c.MemberHost(0, etcdv1.DefaultClusterDomain)
	running := etcdv1.TLSSecretsStatus{Server: "u-server", Peer: "u-peer", Client: "u-client"}
	wanted := etcdv1.TLSSecretsStatus{Server: "v-server", Peer: "v-peer", Client: "v-client"}
	// rename gives set's Secrets the wanted names.
	rename := func(set map[string]*corev1.Secret, into map[string]*corev1.Secret) {
		for n, s := range set {
			into["v"+strings.TrimPrefix(n, "u")] = s
		}
	}
	cases := []struct {
		name   string
		build  func() map[string]*corev1.Secret
		reason string
	}{
		{"renewed under the same CA", func() map[string]*corev1.Secret {
			old, ca := userPKI(t, c, now)
			got := map[string]*corev1.Secret{}
			for n, s := range old {
				got[n] = s
			}
			reqs := leafRequests(c, etcdv1.DefaultClusterDomain)
			for own, user := range map[string]string{c.OperatorServerSecretName(): "v-server", c.OperatorPeerSecretName(): "v-peer", c.OperatorClientSecretName(): "v-client"} {
				leaf, err := pki.Issue(ca, reqs[own], now.Add(-time.Hour), 12*time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				got[user] = &corev1.Secret{Data: map[string][]byte{corev1.TLSCertKey: leaf.CertPEM, corev1.TLSPrivateKeyKey: leaf.KeyPEM, keyCACert: ca.CertPEM}}
			}
			return got
		}, ""},
		{"another CA", func() map[string]*corev1.Secret {
			got, _ := userPKI(t, c, now)
			other, _ := userPKI(t, c, now)
			rename(other, got)
			return got
		}, "switch through the operator's CA"},
		{"another CA, both trusting both", func() map[string]*corev1.Secret {
			got, oldCA := userPKI(t, c, now)
			other, newCA := userPKI(t, c, now)
			rename(other, got)
			for _, s := range got {
				s.Data[keyCACert] = joinPEM(oldCA.CertPEM, newCA.CertPEM)
			}
			return got
		}, ""},
		{"the new Secrets incomplete", func() map[string]*corev1.Secret {
			got, _ := userPKI(t, c, now)
			other, _ := userPKI(t, c, now)
			rename(other, got)
			delete(got, "v-peer")
			return got
		}, "the peer Secret v-peer is not found; the members keep u-server, u-peer and u-client"},
	}
	for _, tc := range cases {
		reason := checkRename(c, running, wanted, tc.build(), host, now)
		if (tc.reason == "" && reason != "") || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: checkRename = %q, want %q", tc.name, reason, tc.reason)
		}
	}
}

// The members mount the Secrets spec.tls now names only when the move to
// them was found safe.
func TestMountsOnRename(t *testing.T) {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}}
	u := etcdv1.TLSSecretsStatus{Source: etcdv1.CertificateSourceSecrets, Server: "u-server", Peer: "u-peer", Client: "u-client"}
	v := etcdv1.TLSSecretsStatus{Source: etcdv1.CertificateSourceSecrets, Server: "v-server", Peer: "v-peer", Client: "v-client"}
	sw := &certSwitch{running: etcdv1.CertificateSourceSecrets, wanted: etcdv1.CertificateSourceSecrets, runningNames: u, user: v, renamed: true}
	if got := sw.mounts(c); got != v {
		t.Errorf("a safe rename mounts %+v, want the new Secrets", got)
	}
	sw.renameRefused = "another CA"
	if got := sw.mounts(c); got != u {
		t.Errorf("a refused rename mounts %+v, want the running Secrets", got)
	}
}
