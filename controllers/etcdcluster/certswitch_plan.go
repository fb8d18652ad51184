package etcdcluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
)

// Switching certificate sources (spec.tls.serverSecretName and the others
// set on a running cluster that uses the operator's CA, or removed from one
// that uses the user's Secrets) is a CA rotation whose "new CA" is the
// other source's: the phases, their gates (every leaf Secret written, the
// restart rolled out, every member healthy) and their record
// (status.certificateAuthority.rotation, with reason "switch" and from/to)
// are the CA rotation's (carotation_plan.go), and its planner moves the
// phases on (advanceCertSwitch calls advanceCARotation).
//
// Design: members mount Secret volumes and read their ca.crt once, at
// start, so a bundle of both CAs can only reach them through Secrets the
// operator writes: a user's Secret is the user's, and its ca.crt names
// one CA. During a switch members therefore mount the operator's own
// Secrets (<name>-server-tls, -peer-tls, -client-tls), into which the
// operator copies the user's key pairs when the phase calls for leaves
// from the user's source, always with a composed ca.crt:
//
//	phase         ca.crt (every Secret)      leaves in the operator's Secrets
//	              operator CA → Secrets      Secrets → operator CA
//	TrustBoth     operator CA + user CAs     user CAs + new operator CA
//	              issued by the operator CA  copies of the user's pairs
//	IssueFromNew  operator CA + user CAs     user CAs + new operator CA
//	              copies of the user's pairs issued by the operator CA
//	DropOld       the user's Secrets,        operator CA only
//	              mounted directly           issued by the operator CA
//
// The operator connects with whatever the members mount (EtcdCluster
// ClientSecretName follows status.tlsSecrets), so at every moment it
// trusts what any member presents and presents what every member trusts.
// A switch to the user's Secrets ends on exactly what a cluster created
// with them runs (the user's Secrets mounted, no trust annotation), and
// the operator's CA and leaf Secrets are deleted: nothing trusts that CA
// any more. A switch to the operator's CA ends on a CA-rotated cluster.
//
// The record lives on the CA Secret (annotations: the target source, the
// user's Secret names, the phase), written in one update per step, so an
// operator restarted mid-way resumes. A switch waits while a CA rotation
// is under way (and the CEL rule on EtcdCluster refuses changing the
// Secret names while status.certificateAuthority.rotation is set), and
// while another operation restarts members. It is refused, with members
// kept on the old source, when the user's Secrets cannot be used
// (checkSwitchSecrets): status conditions carry the cause, and the switch
// starts once they are fixed. Another source (cert-manager) fits the same
// scheme: it is a set of Secrets with their own CA.

// switchInput is the observed state advanceCertSwitch decides from.
type switchInput struct {
	// Recorded is the target of the switch recorded on the CA Secret, ""
	// when none is under way; Phase its phase.
	Recorded etcdv1.CertificateSource
	Phase    etcdv1.CARotationPhase
	// Running is the source the members' template mounts ("" for a new
	// cluster or one without TLS in its template); Wanted is spec.tls's.
	Running, Wanted etcdv1.CertificateSource
	// Invalid says why the user's Secrets cannot be switched to or from
	// ("" when they can).
	Invalid string
	// Rotating is the phase of a CA rotation under way ("" none).
	Rotating etcdv1.CARotationPhase
	// LeavesCurrent, RolledOut, AllHealthy and Busy as in caInput.
	LeavesCurrent, RolledOut, AllHealthy bool
	Busy                                 string
}

// switchStep is the next move of a switch: a caAction on the CA Secret
// (start, promote to IssueFromNew, drop the old source, finish), or none.
type switchStep struct {
	Action caAction
	// Refused: a switch is wanted and cannot be done; Message says why
	// and what happens next.
	Refused bool
	Message string
}

// advanceCertSwitch chooses the next move of a switch of certificate
// sources. Pure. None is started for a new cluster or while the running
// source is the wanted one; a recorded switch is carried to its end even
// if spec.tls changed back meanwhile (the next pass then switches back).
func advanceCertSwitch(in switchInput) switchStep {
	if in.Recorded == "" {
		if in.Running == "" || in.Running == in.Wanted {
			return switchStep{}
		}
		what := fmt.Sprintf("switch of certificate sources from %s to %s", in.Running, in.Wanted)
		switch {
		case in.Invalid != "":
			return switchStep{Refused: true, Message: fmt.Sprintf("%s refused: %s; members keep their certificates from %s, and the switch starts once this is fixed",
				what, in.Invalid, in.Running)}
		case in.Rotating != "":
			return switchStep{Message: fmt.Sprintf("%s waits for the CA rotation under way (phase %s) to finish; members keep their certificates from %s", what, in.Rotating, in.Running)}
		case in.Busy != "":
			return switchStep{Message: fmt.Sprintf("%s waits for %s; members keep their certificates from %s", what, in.Busy, in.Running)}
		}
		return switchStep{Action: caStart, Message: what + " 1/3 TrustBoth: members are to trust both sources' CAs; they restart one at a time, leader last"}
	}
	from := etcdv1.CertificateSourceOperator
	if in.Recorded == etcdv1.CertificateSourceOperator {
		from = etcdv1.CertificateSourceSecrets
	}
	step := advanceCARotation(caInput{Phase: in.Phase, LeavesCurrent: in.LeavesCurrent, RolledOut: in.RolledOut, AllHealthy: in.AllHealthy})
	msg := strings.Replace(step.Message, "CA rotation", fmt.Sprintf("switch of certificate sources from %s to %s", from, in.Recorded), 1)
	msg = strings.ReplaceAll(msg, "the new CA", describeSource(in.Recorded))
	msg = strings.ReplaceAll(msg, "the old CA", describeSource(from))
	if in.Wanted != in.Recorded && in.Phase != "" {
		msg += fmt.Sprintf("; spec.tls now asks for %s again: a switch back follows", in.Wanted)
	}
	return switchStep{Action: step.Action, Message: msg}
}

// runningSource reads the source a members' template mounts: Operator when
// its server-tls volume is the operator's Secret, Secrets (with the three
// names) when it is another, "" without one (TLS off in the template).
func runningSource(c *etcdv1.EtcdCluster, spec *corev1.PodSpec) (etcdv1.CertificateSource, etcdv1.TLSSecretsStatus) {
	names := etcdv1.TLSSecretsStatus{}
	for _, v := range spec.Volumes {
		if v.Secret == nil {
			continue
		}
		switch v.Name {
		case "server-tls":
			names.Server = v.Secret.SecretName
		case "peer-tls":
			names.Peer = v.Secret.SecretName
		case "client-tls":
			names.Client = v.Secret.SecretName
		}
	}
	switch names.Server {
	case "":
		return "", names
	case c.OperatorServerSecretName():
		names.Source = etcdv1.CertificateSourceOperator
	default:
		names.Source = etcdv1.CertificateSourceSecrets
	}
	return names.Source, names
}

// userSecrets are the user's three Secrets of a switch as read, and what
// the operator's Secrets take from them.
type userSecrets struct {
	// pairs by the operator's Secret name: the user's tls.crt and tls.key.
	pairs map[string]pki.Pair
	// ca is the union of the three Secrets' ca.crt, PEM.
	ca []byte
}

// checkSwitchSecrets checks the user's Secrets named in names (nil: not
// found) for a switch: each holds tls.crt, tls.key (matching) and ca.crt;
// each leaf verifies against its own ca.crt at now for its usages (server
// and peer: server and client auth; client: client auth), the server leaf
// also against the client Secret's ca.crt (the operator checks members
// with it) and the client leaf against the server Secret's (members check
// the operator with it); the server and peer leaves name the members'
// host names (host, a member's DNS name), and the client leaf's common
// name is root (etcd takes it as the user). The first problem found is
// returned as a sentence for the status; "" when none.
func checkSwitchSecrets(c *etcdv1.EtcdCluster, names etcdv1.TLSSecretsStatus, got map[string]*corev1.Secret, host string, now time.Time) (userSecrets, string) {
	out := userSecrets{pairs: map[string]pki.Pair{}}
	type role struct {
		name, own, purpose string
		usages             []x509.ExtKeyUsage
	}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	roles := []role{
		{names.Server, c.OperatorServerSecretName(), "server", both},
		{names.Peer, c.OperatorPeerSecretName(), "peer", both},
		{names.Client, c.OperatorClientSecretName(), "client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	}
	leaves := map[string]*x509.Certificate{}
	chains := map[string]*x509.CertPool{}
	pools := map[string]*x509.CertPool{}
	var seen []*x509.Certificate
	for _, r := range roles {
		s := got[r.name]
		if s == nil {
			return out, fmt.Sprintf("the %s Secret %s is not found", r.purpose, r.name)
		}
		for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey, keyCACert} {
			if len(s.Data[k]) == 0 {
				return out, fmt.Sprintf("the %s Secret %s has no %s", r.purpose, r.name, k)
			}
		}
		if _, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]); err != nil {
			return out, fmt.Sprintf("the %s Secret %s: tls.crt and tls.key are not a key pair: %v", r.purpose, r.name, err)
		}
		chain, err := pki.ParseBundle(s.Data[corev1.TLSCertKey])
		if err != nil {
			return out, fmt.Sprintf("the %s Secret %s: tls.crt: %v", r.purpose, r.name, err)
		}
		cas, err := pki.ParseBundle(s.Data[keyCACert])
		if err != nil {
			return out, fmt.Sprintf("the %s Secret %s: ca.crt: %v", r.purpose, r.name, err)
		}
		pool, inter := x509.NewCertPool(), x509.NewCertPool()
		for _, ca := range cas {
			pool.AddCert(ca)
			if !containsCert(seen, ca) {
				seen = append(seen, ca)
				out.ca = append(out.ca, joinPEM(pemCert(ca))...)
			}
		}
		for _, ic := range chain[1:] {
			inter.AddCert(ic)
		}
		leaves[r.name], chains[r.name], pools[r.name] = chain[0], inter, pool
		out.pairs[r.own] = pki.Pair{CertPEM: s.Data[corev1.TLSCertKey], KeyPEM: s.Data[corev1.TLSPrivateKeyKey]}
		for _, u := range r.usages {
			// One usage at a time: Verify accepts any one of several.
			if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
				return out, fmt.Sprintf("the %s Secret %s: its certificate does not verify against its own ca.crt for %s use (%s): %v", r.purpose, r.name, r.purpose, usageName(u), err)
			}
		}
		switch {
		case r.purpose != "client" && chain[0].VerifyHostname(host) != nil:
			return out, fmt.Sprintf("the %s Secret %s: its certificate does not name the members' host names (%s; see spec.tls.serverSecretName)", r.purpose, r.name, host)
		case r.purpose == "client" && c.AuthEnabled() && chain[0].Subject.CommonName != rootUserName:
			return out, fmt.Sprintf("the client Secret %s: its certificate's common name is %q, not %q (etcd takes it as the user)", r.name, chain[0].Subject.CommonName, rootUserName)
		}
	}
	cross := []struct{ leaf, by, why string }{
		{names.Server, names.Client, "the operator checks members with the client Secret's ca.crt"},
		{names.Client, names.Server, "members check clients with the server Secret's ca.crt"},
	}
	for _, x := range cross {
		if _, err := leaves[x.leaf].Verify(x509.VerifyOptions{Roots: pools[x.by], Intermediates: chains[x.leaf], CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return out, fmt.Sprintf("the certificate of Secret %s does not verify against the ca.crt of Secret %s (%s): %v", x.leaf, x.by, x.why, err)
		}
	}
	return out, ""
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, l := range list {
		if l.Equal(c) {
			return true
		}
	}
	return false
}

// describeSource names a source as the phases' messages speak of a CA.
func describeSource(s etcdv1.CertificateSource) string {
	if s == etcdv1.CertificateSourceOperator {
		return "the operator's CA"
	}
	return "the user's Secrets' CA"
}

// pemCert encodes a certificate as PEM.
func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func usageName(u x509.ExtKeyUsage) string {
	if u == x509.ExtKeyUsageServerAuth {
		return "server auth"
	}
	return "client auth"
}

// checkRename decides whether members running on the user's Secrets
// running may move to the other user's Secrets wanted (got: the Secrets
// read, by name) with ordinary health-gated restarts, one member at a
// time: only when wanted passes the checks of a switch
// (checkSwitchSecrets) and, while some members present the old
// certificates and some the new, every member and the operator still
// trust each other: every leaf of either set verifies against the ca.crt
// of every Secret of the other set. Otherwise it returns why not, and what
// to do, for the status; the members keep running.
func checkRename(c *etcdv1.EtcdCluster, running, wanted etcdv1.TLSSecretsStatus, got map[string]*corev1.Secret, host string, now time.Time) string {
	keep := fmt.Sprintf("the members keep %s, %s and %s", running.Server, running.Peer, running.Client)
	if _, invalid := checkSwitchSecrets(c, wanted, got, host, now); invalid != "" {
		return fmt.Sprintf("spec.tls names other Secrets, but %s; %s until this is fixed", invalid, keep)
	}
	sets := [2][]string{{running.Server, running.Peer, running.Client}, {wanted.Server, wanted.Peer, wanted.Client}}
	for i, leaves := range sets {
		for _, leafName := range leaves {
			ls := got[leafName]
			if ls == nil {
				return fmt.Sprintf("the Secret %s the members run on is not found; %s until it is back", leafName, keep)
			}
			chain, err := pki.ParseBundle(ls.Data[corev1.TLSCertKey])
			if err != nil {
				return fmt.Sprintf("the Secret %s: tls.crt: %v; %s", leafName, err, keep)
			}
			inter := x509.NewCertPool()
			for _, ic := range chain[1:] {
				inter.AddCert(ic)
			}
			for _, byName := range sets[1-i] {
				cas, err := pki.ParseBundle(got[byName].Data[keyCACert])
				if err != nil {
					return fmt.Sprintf("the Secret %s: ca.crt: %v; %s", byName, err, keep)
				}
				pool := x509.NewCertPool()
				for _, ca := range cas {
					pool.AddCert(ca)
				}
				if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					return fmt.Sprintf("spec.tls names Secrets whose CA the members' current Secrets do not trust (the certificate of %s does not verify against the ca.crt of %s: %v): "+
						"restarting members onto them one at a time would split the cluster, so %s. To move to Secrets of another CA, switch through the operator's CA: "+
						"remove the three names, wait until status.certificateAuthority.rotation is gone, then set the new names "+
						"(or give the new Secrets a ca.crt that holds both CAs)", leafName, byName, err, keep)
				}
			}
		}
	}
	return ""
}
