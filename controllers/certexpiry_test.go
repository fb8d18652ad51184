package controllers

import (
	"crypto/x509"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
	"quorum.dev/etcd-operator/internal/opmetrics"
)

// Expiry warnings for certificates the operator does not renew: the
// user's Secrets, with the suite's clock moved forward.
var _ = Describe("EtcdCluster certificate expiry warnings", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond
	const day = 24 * time.Hour
	BeforeEach(func() { DeferCleanup(func() { clockOffset.Store(0) }) })

	It("warns once about a user's certificate within 30 days of expiry, exports its expiry and its CA's, and clears once the Secret is renewed", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		ca, err := pki.NewCA("user ca", time.Now(), 365*day)
		Expect(err).NotTo(HaveOccurred())
		caCert, err := pki.ParseCert(ca.CertPEM)
		Expect(err).NotTo(HaveOccurred())
		// put writes Secret name with a leaf of CN name valid for validity
		// from the reconcilers' clock, and returns the leaf.
		put := func(name string, validity time.Duration) *x509.Certificate {
			leaf, err := pki.Issue(ca, pki.LeafRequest{CommonName: name, Server: true, Client: true}, testClock(), validity)
			Expect(err).NotTo(HaveOccurred())
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
			data := map[string][]byte{"tls.crt": leaf.CertPEM, "tls.key": leaf.KeyPEM, "ca.crt": ca.CertPEM}
			if err := get(ctx, ns, name, s)(); err == nil {
				s.Data = data
				Expect(k8s.Update(ctx, s)).To(Succeed())
			} else {
				s.Data = data
				Expect(k8s.Create(ctx, s)).To(Succeed())
			}
			cert, err := pki.ParseCert(leaf.CertPEM)
			Expect(err).NotTo(HaveOccurred())
			return cert
		}
		srv := put("srv", 40*day)
		put("peer", 300*day)
		put("cli", 300*day)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "exp", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{
			Replicas: ptr.To[int32](1),
			TLS:      etcdv1.TLSSpec{ServerSecretName: "srv", PeerSecretName: "peer", ClientSecretName: "cli"},
		}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		expiring := func(g Gomega) *metav1.Condition {
			got := &etcdv1.EtcdCluster{}
			g.Expect(get(ctx, ns, "exp", got)()).To(Succeed())
			cond := meta.FindStatusCondition(got.Status.Conditions, etcdv1.ConditionCertificatesExpiring)
			g.Expect(cond).NotTo(BeNil())
			if r := meta.FindStatusCondition(got.Status.Conditions, etcdv1.ConditionReady); r != nil {
				g.Expect(r.Reason).NotTo(HavePrefix("Certificate"), "an expiring certificate is not a reason for Ready")
			}
			return cond
		}
		warnings := func(g Gomega) []eventsv1.Event {
			evs := &eventsv1.EventList{}
			g.Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
			var out []eventsv1.Event
			for _, e := range evs.Items {
				if e.Reason == etcdv1.ReasonCertificateExpiring || e.Reason == etcdv1.ReasonCertificateExpired {
					out = append(out, e)
				}
			}
			return out
		}
		expiry := func(secret, key string) float64 {
			return testutil.ToFloat64(opmetrics.CertificateExpiry.WithLabelValues(ns, "exp", secret, key))
		}

		By("40 days left: no warning, the expiries exported")
		Eventually(func(g Gomega) {
			cond := expiring(g)
			g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonCertificatesValid))
			g.Expect(cond.Message).To(ContainSubstring(`the soonest: "srv" (tls.crt of Secret srv) expires at ` + srv.NotAfter.UTC().Format(time.RFC3339)))
			g.Expect(expiry("srv", "tls.crt")).To(BeNumerically("==", srv.NotAfter.Unix()))
			g.Expect(expiry("peer", "ca.crt")).To(BeNumerically("==", caCert.NotAfter.Unix()), "the user's CA in ca.crt is exported")
		}, timeout, poll).Should(Succeed())
		Expect(warnings(Default)).To(BeEmpty())

		By("20 days later: the next pass, unprompted, warns")
		clockOffset.Store(int64(20 * day))
		Eventually(func(g Gomega) {
			cond := expiring(g)
			g.Expect(cond.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonCertificateExpiring))
			g.Expect(cond.Message).To(HavePrefix(`"srv" (tls.crt of Secret srv) expires at ` + srv.NotAfter.UTC().Format(time.RFC3339) + "; within 30 days of expiry"))
			g.Expect(cond.Message).To(ContainSubstring("put a renewed certificate and key into the Secret"))
			g.Expect(cond.Message).NotTo(ContainSubstring("peer"), "only the certificate due is named")
		}, timeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			ws := warnings(g)
			g.Expect(ws).To(HaveLen(1))
			g.Expect(ws[0].Type).To(Equal(corev1.EventTypeWarning))
			g.Expect(ws[0].Regarding.Name).To(Equal("exp"))
			g.Expect(ws[0].Related).NotTo(BeNil())
			g.Expect(ws[0].Related.Name).To(Equal("srv"))
			g.Expect(ws[0].Note).To(ContainSubstring(`"srv" (tls.crt of Secret srv) expires at`))
		}, timeout, poll).Should(Succeed())

		By("more passes: no more events (a repeat would make the Event a series)")
		for i := 0; i < 5; i++ {
			mutate(ctx, ns, "exp", poke)
			time.Sleep(300 * time.Millisecond)
		}
		Consistently(func(g Gomega) {
			ws := warnings(g)
			g.Expect(ws).To(HaveLen(1))
			g.Expect(ws[0].Series).To(BeNil(), "the warning was recorded again")
		}, 2*time.Second, poll).Should(Succeed())

		By("the Secret renewed: the warning clears, the new expiry is exported")
		renewed := put("srv", 90*day)
		Eventually(func(g Gomega) {
			cond := expiring(g)
			g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonCertificatesValid))
			g.Expect(expiry("srv", "tls.crt")).To(BeNumerically("==", renewed.NotAfter.Unix()))
		}, timeout, poll).Should(Succeed())
		ws := warnings(Default)
		Expect(ws).To(HaveLen(1))
		Expect(ws[0].Series).To(BeNil())
	})
})
