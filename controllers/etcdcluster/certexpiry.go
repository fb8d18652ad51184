package etcdcluster

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/conditions"
	"quorum.dev/etcd-operator/controllers/pki"
)

// Expiry warnings (the CertificatesExpiring condition, see
// api/v1alpha1/conditions.go). Every certificate a cluster depends on is
// checked once its Secrets were read by the certificates step:
//   - the user's Secrets (spec.tls.*SecretName): every certificate of
//     tls.crt (the leaf and any intermediate) and every CA of ca.crt. The
//     operator renews none of them;
//   - the operator's CA Secret: its signing CA and every CA of its ca.crt
//     (during a rotation, the old CA too). The CA is rotated 90 days before
//     it expires (caRotateBefore), so one still here in the window is one
//     the rotation could not replace (it waits for healthy members, or for
//     another operation). The operator's leaves are renewed in the window
//     (leafRenewBefore) or expire with the CA (pki.Valid): never counted.
//
// certWarnBefore is the window: 30 days, the operator's own leaf renewal
// window (leafRenewBefore), also where cert-manager renews its default
// 90-day certificates (at two thirds of their life). A certificate whose
// notAfter is less than this after now is due; one past its notAfter has
// expired.
const certWarnBefore = leafRenewBefore

// certPlace is where a certificate is found: a Secret's key.
type certPlace struct {
	Secret string
	Key    string // tls.crt or ca.crt
}

// watchedCert is one certificate a cluster depends on, found in one or
// more places (the user's three Secrets usually share a CA in ca.crt).
type watchedCert struct {
	// ID is the first 8 bytes of the SHA-256 of the DER, hex: a renewed
	// certificate has another.
	ID string
	// Subject is the common name, or the whole subject when it has none.
	Subject  string
	NotAfter time.Time
	// OperatorCA: the operator's own CA (the CA Secret's); else the user's.
	OperatorCA bool
	In         []certPlace
}

// where renders the places as `tls.crt of Secret a` or
// `ca.crt of Secrets a, b`.
func (w watchedCert) where() string {
	byKey := map[string][]string{}
	var keys []string
	for _, p := range w.In {
		if _, ok := byKey[p.Key]; !ok {
			keys = append(keys, p.Key)
		}
		byKey[p.Key] = append(byKey[p.Key], p.Secret)
	}
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		noun := "Secret"
		if len(byKey[k]) > 1 {
			noun = "Secrets"
		}
		parts = append(parts, fmt.Sprintf("%s of %s %s", k, noun, strings.Join(byKey[k], ", ")))
	}
	return strings.Join(parts, "; ")
}

// describe is `"CN" (tls.crt of Secret a) expires at T`, or `expired at T`
// once now is past notAfter. Event memory (announcedCerts) looks for it
// in the condition's message.
func (w watchedCert) describe(now time.Time) string {
	verb := "expires"
	if !now.Before(w.NotAfter) {
		verb = "expired"
	}
	return fmt.Sprintf("%q (%s) %s at %s", w.Subject, w.where(), verb, w.NotAfter.UTC().Format(time.RFC3339))
}

// watchedCerts lists the certificates of the given Secrets, each once, in
// the order found: tls.crt's certificates, then ca.crt's, Secret by
// Secret. Data that does not parse is skipped: checkUserCertificates and
// readCASecret report it. operatorCA marks them as the operator's CA.
func watchedCerts(secrets []*corev1.Secret, operatorCA bool) []watchedCert {
	var out []watchedCert
	index := map[string]int{}
	for _, s := range secrets {
		if s == nil {
			continue
		}
		for _, key := range []string{corev1.TLSCertKey, keyCACert} {
			certs, err := pki.ParseBundle(s.Data[key])
			if err != nil {
				continue
			}
			for _, cert := range certs {
				sum := sha256.Sum256(cert.Raw)
				id := hex.EncodeToString(sum[:8])
				place := certPlace{Secret: s.Name, Key: key}
				if i, ok := index[id]; ok {
					if !slices.Contains(out[i].In, place) {
						out[i].In = append(out[i].In, place)
					}
					continue
				}
				index[id] = len(out)
				out = append(out, watchedCert{ID: id, Subject: subjectOf(cert), NotAfter: cert.NotAfter, OperatorCA: operatorCA, In: []certPlace{place}})
			}
		}
	}
	return out
}

func subjectOf(cert *x509.Certificate) string {
	if cert.Subject.CommonName != "" {
		return cert.Subject.CommonName
	}
	return cert.Subject.String()
}

// expiryVerdict is judgeExpiry's answer.
type expiryVerdict struct {
	// Due: the certificates within window of their expiry or past it,
	// soonest first.
	Due []watchedCert
	// Soonest is the first certificate to expire among those not due, if
	// any (for the False message).
	Soonest *watchedCert
	// Recheck is how long until the verdict changes by time alone: a
	// certificate enters the window, or a due one expires; 0 when nothing
	// will.
	Recheck time.Duration
	// At is the time judged.
	At time.Time
}

// judgeExpiry decides which certificates are due at now. Pure.
func judgeExpiry(certs []watchedCert, now time.Time, window time.Duration) expiryVerdict {
	v := expiryVerdict{At: now}
	sorted := slices.Clone(certs)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].NotAfter.Before(sorted[j].NotAfter) })
	next := func(at time.Time) {
		if d := at.Sub(now); d > 0 && (v.Recheck == 0 || d < v.Recheck) {
			v.Recheck = d
		}
	}
	for i, c := range sorted {
		start := c.NotAfter.Add(-window)
		if now.Before(start) {
			if v.Soonest == nil {
				v.Soonest = &sorted[i]
			}
			next(start)
			continue
		}
		v.Due = append(v.Due, c)
		next(c.NotAfter)
	}
	return v
}

// expired reports whether a due certificate is past its notAfter.
func (v expiryVerdict) expired() bool {
	for _, c := range v.Due {
		if !v.At.Before(c.NotAfter) {
			return true
		}
	}
	return false
}

// remedy says what happens next and what the user must do, for the kinds
// of certificates due (the user's, the operator's CA).
func remedy(due []watchedCert) string {
	var user, ca bool
	for _, c := range due {
		user = user || !c.OperatorCA
		ca = ca || c.OperatorCA
	}
	var out []string
	if user {
		out = append(out, "the operator does not renew certificates it did not issue: put a renewed certificate and key into the Secret "+
			"(a new CA goes into ca.crt beside the old one); members load a renewed tls.crt on their next TLS handshake once the kubelet "+
			"has updated the mounted Secret, and the operator on its next pass, with no restart (members trust a changed ca.crt only once restarted)")
	}
	if ca {
		out = append(out, fmt.Sprintf("the CA rotation, due %d days before the CA expires, has not replaced it (see the Progressing condition "+
			"and status.certificateAuthority.rotation; it waits for every member to be healthy and for other operations); the certificates "+
			"it signed expire with it", int(caRotateBefore.Hours()/24)))
	}
	out = append(out, "once a certificate has expired, members and clients fail TLS handshakes with it")
	return strings.Join(out, "; ")
}

// shortRemedy is what to do about one due certificate, for its event
// (the condition's message says more).
func shortRemedy(c watchedCert) string {
	if c.OperatorCA {
		return "the CA rotation has not replaced it (see the Progressing condition); the certificates it signed expire with it"
	}
	return "the operator does not renew it: put a renewed certificate into the Secret (members and the operator load it without a restart)"
}

// expiryCondition renders the CertificatesExpiring condition. Pure.
func expiryCondition(v expiryVerdict) condition {
	now := v.At
	days := int(certWarnBefore.Hours() / 24)
	if len(v.Due) == 0 {
		msg := fmt.Sprintf("no certificate the operator does not renew expires within %d days", days)
		if v.Soonest != nil {
			msg += "; the soonest: " + v.Soonest.describe(now)
		}
		return no(etcdv1.ReasonCertificatesValid, msg)
	}
	list := make([]string, 0, len(v.Due))
	for _, c := range v.Due {
		list = append(list, c.describe(now))
	}
	reason := etcdv1.ReasonCertificateExpiring
	if v.expired() {
		reason = etcdv1.ReasonCertificateExpired
	}
	return yes(reason, fmt.Sprintf("%s; within %d days of expiry: %s", strings.Join(list, ", "), days, remedy(v.Due)))
}

// checkCertificateExpiry judges the certificates the certificates step
// read (p.userSecrets, or the CA in p.ca), records the verdict for the
// status and the requeue, and a Warning event for each certificate that
// became due or expired since last announced.
func (r *Reconciler) checkCertificateExpiry(ctx context.Context, p *pass) error {
	c := p.cluster
	var certs []watchedCert
	switch {
	case !c.TLSEnabled():
		return nil
	case c.UserCertificates() && len(p.userSecrets) == 0 && p.certSwitch != nil:
		// Switching to the user's Secrets: members present copies of
		// them (or soon will); their expiry is the user's to watch.
		certs = watchedCerts(p.certSwitch.userRead, false)
	case c.UserCertificates():
		certs = watchedCerts(p.userSecrets, false)
	case p.ca != nil:
		certs = watchedCerts([]*corev1.Secret{p.ca.secret}, true)
	default:
		return nil
	}
	keep := dependedOn(c, p)
	if before, ok := r.certSeries.Swap(types.NamespacedName{Namespace: c.Namespace, Name: c.Name}.String(), keep); ok {
		pruneCertificateExpiry(c, before.(map[string]bool), keep)
	}
	now := r.now()
	v := judgeExpiry(certs, now, certWarnBefore)
	p.certExpiry = &v
	if len(v.Due) > 0 {
		log.FromContext(ctx).V(1).Info("certificates within their expiry window the operator will not renew", "due", len(v.Due), "recheckIn", v.Recheck)
	}
	r.announceDueCertificates(c, v, now)
	return nil
}

// announceDueCertificates records a Warning event for each due certificate
// not announced yet in its state (expiring, expired). The reconciler
// remembers what it announced per cluster; after an operator restart, a
// certificate the condition's message already names in that state counts
// as announced, so a restart brings no new event.
func (r *Reconciler) announceDueCertificates(c *etcdv1.EtcdCluster, v expiryVerdict, now time.Time) {
	key := types.NamespacedName{Namespace: c.Namespace, Name: c.Name}.String() + "/" + etcdv1.ConditionCertificatesExpiring
	states := make([]string, 0, len(v.Due))
	for _, d := range v.Due {
		states = append(states, certState(d, now))
	}
	last, seen := r.announced.Swap(key, strings.Join(states, ","))
	var before string
	if seen {
		before = last.(string)
	} else if cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionCertificatesExpiring); cond != nil && cond.Status == "True" {
		for i, d := range v.Due {
			if strings.Contains(cond.Message, d.describe(now)) {
				before += "," + states[i]
			}
		}
	}
	announced := map[string]bool{}
	for _, s := range strings.Split(before, ",") {
		announced[s] = true
	}
	for i, d := range v.Due {
		if announced[states[i]] {
			continue
		}
		reason := etcdv1.ReasonCertificateExpiring
		if !now.Before(d.NotAfter) {
			reason = etcdv1.ReasonCertificateExpired
		}
		related := &corev1.Secret{}
		related.Namespace, related.Name = c.Namespace, d.In[0].Secret
		r.Recorder.Eventf(c, related, corev1.EventTypeWarning, reason, "CheckCertificates", "certificate %s: %s", d.describe(now), shortRemedy(d))
	}
}

// certState is a due certificate's identity and state, for the event
// memory.
func certState(d watchedCert, now time.Time) string {
	if !now.Before(d.NotAfter) {
		return d.ID + "/expired"
	}
	return d.ID + "/expiring"
}

// setCertificatesCondition writes the CertificatesExpiring condition from
// the pass's verdict: removed with TLS off, kept as it was when the check
// did not run (an earlier step failed).
func setCertificatesCondition(c *etcdv1.EtcdCluster, p *pass) {
	switch {
	case !c.TLSEnabled():
		meta.RemoveStatusCondition(&c.Status.Conditions, etcdv1.ConditionCertificatesExpiring)
	case p.certExpiry != nil:
		cond := expiryCondition(*p.certExpiry)
		conditions.Set(&c.Status.Conditions, c.Generation, etcdv1.ConditionCertificatesExpiring, cond.ok, cond.reason, cond.msg)
	}
}

// capForCertificates brings the next pass forward to when the expiry
// verdict changes by time alone (a certificate enters the window or
// expires), so that the condition and the event come on time whatever
// the usual pace. Never sooner than a second: no hot loop.
func capForCertificates(res ctrl.Result, p *pass) ctrl.Result {
	if p.certExpiry == nil || p.certExpiry.Recheck == 0 {
		return res
	}
	at := max(p.certExpiry.Recheck, time.Second)
	if res.RequeueAfter == 0 || at < res.RequeueAfter {
		res.RequeueAfter = at
	}
	return res
}

// dependedOn names the TLS Secrets whose expiry c exports this pass: the
// ones members mount and the operator connects with, the operator's CA
// and own Secrets while they are in use (its source, or either side of a
// switch), and the user's Secrets while a switch reads them.
func dependedOn(c *etcdv1.EtcdCluster, p *pass) map[string]bool {
	keep := map[string]bool{c.ServerSecretName(): true, c.PeerSecretName(): true, c.ClientSecretName(): true}
	if p.ca != nil {
		for _, n := range []string{c.CASecretName(), c.OperatorServerSecretName(), c.OperatorPeerSecretName(), c.OperatorClientSecretName()} {
			keep[n] = true
		}
	}
	if p.certSwitch != nil {
		for _, s := range p.certSwitch.userRead {
			keep[s.Name] = true
		}
	}
	for _, s := range p.userSecrets {
		keep[s.Name] = true
	}
	return keep
}
