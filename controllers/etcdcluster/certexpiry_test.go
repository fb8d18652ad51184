package etcdcluster

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
)

const day = 24 * time.Hour

var expiryNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func userCert(id, cn string, left time.Duration, secret, key string) watchedCert {
	return watchedCert{ID: id, Subject: cn, NotAfter: expiryNow.Add(left), In: []certPlace{{secret, key}}}
}

func TestJudgeExpiry(t *testing.T) {
	leaf := func(left time.Duration) watchedCert { return userCert("l", "db-server", left, "srv", "tls.crt") }
	ca := func(left time.Duration) watchedCert { return userCert("c", "user CA", left, "srv", "ca.crt") }
	opCA := func(left time.Duration) watchedCert {
		c := userCert("o", "db.ns etcd CA", left, "db-ca", "tls.crt")
		c.OperatorCA = true
		return c
	}
	for _, tc := range []struct {
		name    string
		certs   []watchedCert
		due     []string // IDs, soonest first
		soonest string
		recheck time.Duration
		reason  string
	}{
		{"no certificates", nil, nil, "", 0, etcdv1.ReasonCertificatesValid},
		{"a year left", []watchedCert{leaf(365 * day), ca(3650 * day)}, nil, "l", 335 * day, etcdv1.ReasonCertificatesValid},
		{"one second before the window", []watchedCert{leaf(30*day + time.Second)}, nil, "l", time.Second, etcdv1.ReasonCertificatesValid},
		{"the window starts: due", []watchedCert{leaf(30 * day)}, []string{"l"}, "", 30 * day, etcdv1.ReasonCertificateExpiring},
		{"20 days left", []watchedCert{leaf(20 * day), ca(3650 * day)}, []string{"l"}, "c", 20 * day, etcdv1.ReasonCertificateExpiring},
		{"the user's CA in ca.crt too", []watchedCert{ca(10 * day), leaf(20 * day)}, []string{"c", "l"}, "", 10 * day, etcdv1.ReasonCertificateExpiring},
		{"expired", []watchedCert{leaf(-time.Hour), ca(3650 * day)}, []string{"l"}, "c", 3620 * day, etcdv1.ReasonCertificateExpired},
		{"at notAfter: expired", []watchedCert{leaf(0)}, []string{"l"}, "", 0, etcdv1.ReasonCertificateExpired},
		{"one expired, one expiring: Expired", []watchedCert{ca(5 * day), leaf(-day)}, []string{"l", "c"}, "", 5 * day, etcdv1.ReasonCertificateExpired},
		// The operator's CA: rotated at 90 days, so due only when the
		// rotation did not replace it.
		{"operator CA at 89 days (being rotated): no warning", []watchedCert{opCA(89 * day)}, nil, "o", 59 * day, etcdv1.ReasonCertificatesValid},
		{"operator CA at 29 days: the rotation is stuck", []watchedCert{opCA(29 * day)}, []string{"o"}, "", 29 * day, etcdv1.ReasonCertificateExpiring},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := judgeExpiry(tc.certs, expiryNow, certWarnBefore)
			var due []string
			for _, d := range v.Due {
				due = append(due, d.ID)
			}
			if strings.Join(due, ",") != strings.Join(tc.due, ",") {
				t.Errorf("due %v, want %v", due, tc.due)
			}
			soonest := ""
			if v.Soonest != nil {
				soonest = v.Soonest.ID
			}
			if soonest != tc.soonest || v.Recheck != tc.recheck {
				t.Errorf("soonest %q recheck %v, want %q %v", soonest, v.Recheck, tc.soonest, tc.recheck)
			}
			if got := expiryCondition(v); got.reason != tc.reason || got.ok != (len(tc.due) > 0) {
				t.Errorf("condition %+v, want reason %s", got, tc.reason)
			}
		})
	}
}

func TestExpiryConditionMessage(t *testing.T) {
	shared := userCert("c", "user CA", 10*day, "srv", "ca.crt")
	shared.In = append(shared.In, certPlace{"peer", "ca.crt"}, certPlace{"cli", "ca.crt"})
	v := judgeExpiry([]watchedCert{userCert("l", "db-server", 20*day, "srv", "tls.crt"), shared}, expiryNow, certWarnBefore)
	msg := expiryCondition(v).msg
	for _, want := range []string{
		`"user CA" (ca.crt of Secrets srv, peer, cli) expires at 2030-01-11T00:00:00Z`,
		`"db-server" (tls.crt of Secret srv) expires at 2030-01-21T00:00:00Z`,
		"within 30 days of expiry",
		"does not renew certificates it did not issue",
		"put a renewed certificate and key into the Secret",
		"with no restart",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "CA rotation") {
		t.Errorf("a user's certificate is not the operator's CA rotation's business:\n%s", msg)
	}
	// The soonest first.
	if strings.Index(msg, "user CA") > strings.Index(msg, "db-server") {
		t.Errorf("not soonest first:\n%s", msg)
	}

	op := userCert("o", "db.ns etcd CA", -time.Minute, "db-ca", "tls.crt")
	op.OperatorCA = true
	msg = expiryCondition(judgeExpiry([]watchedCert{op}, expiryNow, certWarnBefore)).msg
	for _, want := range []string{`"db.ns etcd CA" (tls.crt of Secret db-ca) expired at 2029-12-31T23:59:00Z`, "CA rotation, due 90 days", "expire with it"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}

	msg = expiryCondition(judgeExpiry([]watchedCert{userCert("l", "db-server", 40*day, "srv", "tls.crt")}, expiryNow, certWarnBefore)).msg
	if want := `no certificate the operator does not renew expires within 30 days; the soonest: "db-server" (tls.crt of Secret srv) expires at 2030-02-10T00:00:00Z`; msg != want {
		t.Errorf("got %q, want %q", msg, want)
	}
}

func TestWatchedCerts(t *testing.T) {
	ca, err := pki.NewCA("user CA", expiryNow, 365*day)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("old CA", expiryNow, 30*day)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(cn string) []byte {
		p, err := pki.Issue(ca, pki.LeafRequest{CommonName: cn, Server: true, Client: true}, expiryNow, 90*day)
		if err != nil {
			t.Fatal(err)
		}
		return p.CertPEM
	}
	bundle := append(append([]byte{}, ca.CertPEM...), other.CertPEM...)
	secret := func(name string, tls, caCrt []byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string][]byte{corev1.TLSCertKey: tls, keyCACert: caCrt}}
	}
	// The server's tls.crt carries its chain (the leaf, then the CA).
	got := watchedCerts([]*corev1.Secret{
		secret("srv", append(issue("db-server"), ca.CertPEM...), bundle),
		secret("peer", issue("db-peer"), bundle),
		secret("cli", issue("root"), []byte("junk")),
		nil,
	}, false)
	var lines []string
	for _, c := range got {
		if c.OperatorCA || len(c.ID) != 16 {
			t.Errorf("%+v: wrong kind or ID", c)
		}
		lines = append(lines, c.Subject+": "+c.where())
	}
	want := []string{
		"db-server: tls.crt of Secret srv",
		"user CA: tls.crt of Secret srv; ca.crt of Secrets srv, peer",
		"old CA: ca.crt of Secrets srv, peer",
		"db-peer: tls.crt of Secret peer",
		"root: tls.crt of Secret cli",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// A due certificate is announced by one Warning event, again once it
// expired, and not again on later passes, on a pass reading the cluster
// from before its status patch, or after an operator restart.
func TestDueCertificatesAnnouncedOnce(t *testing.T) {
	rec := events.NewFakeRecorder(20)
	r := &Reconciler{Recorder: rec}
	c := withConditions()
	leaf := userCert("l", "db-server", 20*day, "srv", "tls.crt")
	ca := userCert("c", "user CA", 3650*day, "srv", "ca.crt")
	judge := func(at time.Time, certs ...watchedCert) expiryVerdict { return judgeExpiry(certs, at, certWarnBefore) }

	r.announceDueCertificates(c, judge(expiryNow.Add(-20*day), leaf, ca), expiryNow.Add(-20*day)) // 40 days left
	if got := drain(rec); len(got) != 0 {
		t.Fatalf("announced before the window: %q", got)
	}
	for i := 0; i < 3; i++ {
		r.announceDueCertificates(c, judge(expiryNow, leaf, ca), expiryNow)
	}
	got := drain(rec)
	if len(got) != 1 || !strings.HasPrefix(got[0], "Warning "+etcdv1.ReasonCertificateExpiring) || !strings.Contains(got[0], `"db-server" (tls.crt of Secret srv) expires at`) {
		t.Fatalf("want one CertificateExpiring event naming the certificate, got %q", got)
	}
	// Expired: once more.
	later := expiryNow.Add(21 * day)
	r.announceDueCertificates(c, judge(later, leaf, ca), later)
	r.announceDueCertificates(c, judge(later, leaf, ca), later)
	if got := drain(rec); len(got) != 1 || !strings.HasPrefix(got[0], "Warning "+etcdv1.ReasonCertificateExpired) {
		t.Fatalf("want one CertificateExpired event, got %q", got)
	}
	// Renewed: nothing to announce; a new certificate that becomes due is
	// news again.
	renewed := userCert("l2", "db-server", 60*day, "srv", "tls.crt")
	r.announceDueCertificates(c, judge(later, renewed, ca), later)
	if got := drain(rec); len(got) != 0 {
		t.Fatalf("announced a renewed certificate: %q", got)
	}
	r.announceDueCertificates(c, judge(later.Add(31*day), renewed, ca), later.Add(31*day))
	if got := drain(rec); len(got) != 1 {
		t.Fatalf("the renewed certificate's own window: %q", got)
	}

	// An operator restart: the condition already names the certificate.
	restarted := &Reconciler{Recorder: rec}
	v := judge(expiryNow, leaf, ca)
	cond := expiryCondition(v)
	announced := withConditions(metav1.Condition{Type: etcdv1.ConditionCertificatesExpiring, Status: metav1.ConditionTrue, Reason: cond.reason, Message: cond.msg})
	restarted.announceDueCertificates(announced, v, expiryNow)
	if got := drain(rec); len(got) != 0 {
		t.Fatalf("announced again after a restart: %q", got)
	}
	// ...but not if it names it in another state (it expired meanwhile).
	restarted = &Reconciler{Recorder: rec}
	restarted.announceDueCertificates(announced, judge(later, leaf, ca), later)
	if got := drain(rec); len(got) != 1 {
		t.Fatalf("want the expiry announced after a restart, got %q", got)
	}
}

func TestSetCertificatesCondition(t *testing.T) {
	tlsOn := func() *etcdv1.EtcdCluster {
		c := withConditions(metav1.Condition{Type: etcdv1.ConditionCertificatesExpiring, Status: metav1.ConditionTrue, Reason: "Old", Message: "old"})
		return c // TLS is on by default
	}
	// Not checked this pass (an earlier step failed): kept.
	c := tlsOn()
	setCertificatesCondition(c, &pass{})
	if got := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionCertificatesExpiring); got == nil || got.Reason != "Old" {
		t.Errorf("an unchecked pass changed the condition: %+v", got)
	}
	// Renewed: False.
	v := judgeExpiry([]watchedCert{userCert("l", "db-server", 60*day, "srv", "tls.crt")}, expiryNow, certWarnBefore)
	setCertificatesCondition(c, &pass{certExpiry: &v})
	if got := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionCertificatesExpiring); got == nil || got.Status != metav1.ConditionFalse || got.Reason != etcdv1.ReasonCertificatesValid {
		t.Errorf("after renewal: %+v", got)
	}
	// TLS off: gone.
	c = tlsOn()
	c.Spec.TLS.Enabled = ptr.To(false)
	setCertificatesCondition(c, &pass{certExpiry: &v})
	if meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionCertificatesExpiring) != nil {
		t.Error("the condition stayed with TLS off")
	}
}

func TestCapForCertificates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      time.Duration
		recheck time.Duration
		checked bool
		want    time.Duration
	}{
		{"not checked", requeueHealthy, 0, false, requeueHealthy},
		{"nothing will change", requeueHealthy, 0, true, requeueHealthy},
		{"the window starts later than the next pass", requeueHealthy, 20 * day, true, requeueHealthy},
		{"the window starts before the next pass", requeueSpecError, 3 * time.Second, true, 3 * time.Second},
		{"never sooner than a second", requeueHealthy, time.Millisecond, true, time.Second},
		{"no requeue asked: one at the window", 0, time.Hour, true, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pass{}
			if tc.checked {
				p.certExpiry = &expiryVerdict{Recheck: tc.recheck}
			}
			if got := capForCertificates(ctrl.Result{RequeueAfter: tc.in}, p); got.RequeueAfter != tc.want {
				t.Errorf("got %v, want %v", got.RequeueAfter, tc.want)
			}
		})
	}
}
