package controllers

import (
	"crypto/x509"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdcluster"
	"quorum.dev/etcd-operator/controllers/pki"
	"quorum.dev/etcd-operator/internal/opmetrics"
)

// The CA's lifecycle with the suite's clock moved forward. Pods never
// start here, so a rotation stays in its first phase (TrustBoth waits for
// its restart): the later phases are the planner's table tests and the
// e2e "CA rotation" spec.
var _ = Describe("EtcdCluster CA lifecycle", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond
	BeforeEach(func() { DeferCleanup(func() { clockOffset.Store(0) }) })

	// newCluster creates a 1-member TLS cluster and returns its CA.
	newCluster := func(ctx SpecContext, ns, name string) *x509.Certificate {
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		ca := &corev1.Secret{}
		Eventually(get(ctx, ns, name+"-client-tls", &corev1.Secret{}), timeout, poll).Should(Succeed())
		Expect(get(ctx, ns, name+"-ca", ca)()).To(Succeed())
		cert, err := pki.ParseCert(ca.Data["tls.crt"])
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			got := &etcdv1.EtcdCluster{}
			g.Expect(get(ctx, ns, name, got)()).To(Succeed())
			g.Expect(got.Status.CertificateAuthority).NotTo(BeNil())
			g.Expect(got.Status.CertificateAuthority.NotAfter.Time.Equal(cert.NotAfter)).To(BeTrue(), "status shows the CA's expiry")
			g.Expect(testutil.ToFloat64(opmetrics.CertificateExpiry.WithLabelValues(ns, name, name+"-ca", "tls.crt"))).To(BeNumerically("==", cert.NotAfter.Unix()),
				"the CA's expiry is exported like the leaves'")
		}, timeout, poll).Should(Succeed())
		return cert
	}
	// nudge runs a pass now without touching other annotations.
	nudge := func(ctx SpecContext, ns, name string) {
		mutate(ctx, ns, name, func(c *etcdv1.EtcdCluster) {
			if c.Annotations == nil {
				c.Annotations = map[string]string{}
			}
			c.Annotations["poke"] = time.Now().Format(time.RFC3339Nano)
		})
	}
	serial := func(ctx SpecContext, ns, name string) string {
		s := &corev1.Secret{}
		Expect(get(ctx, ns, name, s)()).To(Succeed())
		cert, err := pki.ParseCert(s.Data["tls.crt"])
		Expect(err).NotTo(HaveOccurred())
		return cert.SerialNumber.String()
	}
	rotation := func(ctx SpecContext, ns, name string) func() *etcdv1.CARotationStatus {
		return func() *etcdv1.CARotationStatus {
			c := &etcdv1.EtcdCluster{}
			Expect(get(ctx, ns, name, c)()).To(Succeed())
			if c.Status.CertificateAuthority == nil {
				return nil
			}
			return c.Status.CertificateAuthority.Rotation
		}
	}
	// trustsBoth: every Secret's ca.crt is the CA Secret's bundle of the
	// old and the new CA, and the members' template carries its digest.
	trustsBoth := func(ctx SpecContext, ns, name string, old *x509.Certificate) {
		Eventually(func(g Gomega) {
			ca := &corev1.Secret{}
			g.Expect(get(ctx, ns, name+"-ca", ca)()).To(Succeed())
			g.Expect(ca.Data).To(HaveKey("next.crt"))
			bundle, err := pki.ParseBundle(ca.Data["ca.crt"])
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(bundle).To(HaveLen(2))
			g.Expect(bundle[0].Equal(old)).To(BeTrue(), "the old CA is still trusted")
			for _, leaf := range []string{"-server-tls", "-peer-tls", "-client-tls"} {
				s := &corev1.Secret{}
				g.Expect(get(ctx, ns, name+leaf, s)()).To(Succeed())
				g.Expect(s.Data["ca.crt"]).To(Equal(ca.Data["ca.crt"]), "secret %s trusts both CAs", name+leaf)
			}
			sts := &appsv1.StatefulSet{}
			g.Expect(get(ctx, ns, name, sts)()).To(Succeed())
			g.Expect(sts.Spec.Template.Annotations).To(HaveKey(etcdcluster.AnnotationCATrust))
		}, timeout, poll).Should(Succeed())
	}

	It("re-issues each leaf at most once in the CA's last 30 days (no hot loop), and has begun rotating the CA", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		old := newCluster(ctx, ns, "lastdays")
		before := serial(ctx, ns, "lastdays-server-tls")

		clockOffset.Store(int64(time.Until(old.NotAfter.Add(-20 * 24 * time.Hour))))
		nudge(ctx, ns, "lastdays")
		var capped string
		Eventually(func(g Gomega) {
			capped = serial(ctx, ns, "lastdays-server-tls")
			g.Expect(capped).NotTo(Equal(before), "the expired leaf is re-issued once, capped at the CA's expiry")
		}, timeout, poll).Should(Succeed())
		Eventually(rotation(ctx, ns, "lastdays"), timeout, poll).Should(HaveField("Phase", etcdv1.CARotationTrustBoth))
		trustsBoth(ctx, ns, "lastdays", old)

		peer, client := serial(ctx, ns, "lastdays-peer-tls"), serial(ctx, ns, "lastdays-client-tls")

		By("many more passes in the window re-issue nothing")
		for i := 0; i < 10; i++ {
			nudge(ctx, ns, "lastdays")
			time.Sleep(200 * time.Millisecond)
			Expect(serial(ctx, ns, "lastdays-server-tls")).To(Equal(capped), "pass %d re-issued the server leaf again", i)
			Expect(serial(ctx, ns, "lastdays-peer-tls")).To(Equal(peer), "pass %d re-issued the peer leaf again", i)
			Expect(serial(ctx, ns, "lastdays-client-tls")).To(Equal(client), "pass %d re-issued the client leaf again", i)
		}
	})

	It("rotates automatically once less than 90 days of the CA are left, not before", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		old := newCluster(ctx, ns, "auto")

		clockOffset.Store(int64(time.Until(old.NotAfter.Add(-91 * 24 * time.Hour))))
		nudge(ctx, ns, "auto")
		Consistently(rotation(ctx, ns, "auto"), 3*time.Second, poll).Should(BeNil())
		sts := &appsv1.StatefulSet{}
		Expect(get(ctx, ns, "auto", sts)()).To(Succeed())
		Expect(sts.Spec.Template.Annotations).NotTo(HaveKey(etcdcluster.AnnotationCATrust), "a CA never rotated restarts nothing")
		leaf := serial(ctx, ns, "auto-client-tls")

		clockOffset.Store(int64(time.Until(old.NotAfter.Add(-89 * 24 * time.Hour))))
		nudge(ctx, ns, "auto")
		Eventually(rotation(ctx, ns, "auto"), timeout, poll).Should(And(
			HaveField("Phase", etcdv1.CARotationTrustBoth), HaveField("Reason", "expiring")))
		trustsBoth(ctx, ns, "auto", old)
		Expect(serial(ctx, ns, "auto-client-tls")).To(Equal(leaf), "trusting the new CA keeps the leaf's key pair")
	})

	It("rotates on demand with the rotate-ca annotation, once per value", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		old := newCluster(ctx, ns, "ondemand")
		Consistently(rotation(ctx, ns, "ondemand"), 2*time.Second, poll).Should(BeNil())
		mutate(ctx, ns, "ondemand", func(c *etcdv1.EtcdCluster) {
			c.Annotations = map[string]string{etcdv1.AnnotationRotateCA: "ticket-1"}
		})
		Eventually(rotation(ctx, ns, "ondemand"), timeout, poll).Should(And(
			HaveField("Phase", etcdv1.CARotationTrustBoth), HaveField("Reason", "requested")))
		trustsBoth(ctx, ns, "ondemand", old)
		Eventually(func(g Gomega) {
			c := &etcdv1.EtcdCluster{}
			g.Expect(get(ctx, ns, "ondemand", c)()).To(Succeed())
			g.Expect(c.Status.CertificateAuthority.HandledRequest).To(Equal("ticket-1"))
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionProgressing)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonCARotating))
			g.Expect(cond.Message).To(ContainSubstring("TrustBoth"))
		}, timeout, poll).Should(Succeed())
	})
})
