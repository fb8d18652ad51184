package controllers

import (
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
)

// Issue #13 item 4: the client Service follows spec.service, status.service
// reports what it has, and the server certificate carries tls.extraSANs,
// re-issued when they change.
var _ = Describe("EtcdCluster exposure", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	It("exposes the client Service as asked, reports it, and re-issues the server certificate when the extra SANs change", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "expo", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{
			Replicas: ptr.To[int32](1),
			Service: etcdv1.ServiceSpec{Type: corev1.ServiceTypeNodePort, NodePort: ptr.To[int32](31379),
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Annotations: map[string]string{"example.com/lb": "yes"}},
			TLS: etcdv1.TLSSpec{ExtraSANs: []string{"etcd.example.test", "198.18.7.7"}},
		}}
		Expect(k8s.Create(ctx, c)).To(Succeed())

		svc := &corev1.Service{}
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "expo-client", svc)()).To(Succeed())
			g.Expect(svc.Spec.Type).To(Equal(corev1.ServiceTypeNodePort))
			g.Expect(svc.Spec.Ports).To(HaveLen(1))
			g.Expect(svc.Spec.Ports[0].NodePort).To(Equal(int32(31379)))
			g.Expect(svc.Spec.ExternalTrafficPolicy).To(Equal(corev1.ServiceExternalTrafficPolicyLocal))
			g.Expect(svc.Annotations).To(HaveKeyWithValue("example.com/lb", "yes"))
		}, timeout, poll).Should(Succeed())
		peer := &corev1.Service{}
		Expect(get(ctx, ns, "expo-peer", peer)()).To(Succeed())
		Expect(peer.Spec.Type).To(Equal(corev1.ServiceTypeClusterIP))
		Expect(peer.Spec.ClusterIP).To(Equal(corev1.ClusterIPNone))
		Eventually(func(g Gomega) {
			got := &etcdv1.EtcdCluster{}
			g.Expect(get(ctx, ns, "expo", got)()).To(Succeed())
			g.Expect(got.Status.Service).To(Equal(&etcdv1.ServiceStatus{Type: corev1.ServiceTypeNodePort, NodePort: 31379}))
		}, timeout, poll).Should(Succeed())

		serverCert := func(g Gomega) (*corev1.Secret, []string, []string) {
			s := &corev1.Secret{}
			g.Expect(get(ctx, ns, "expo-server-tls", s)()).To(Succeed())
			cert, err := pki.ParseCert(s.Data["tls.crt"])
			g.Expect(err).NotTo(HaveOccurred())
			var ips []string
			for _, ip := range cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			return s, cert.DNSNames, ips
		}
		var first *corev1.Secret
		Eventually(func(g Gomega) {
			s, names, ips := serverCert(g)
			g.Expect(names).To(ContainElement("etcd.example.test"))
			g.Expect(ips).To(ContainElements("198.18.7.7", "127.0.0.1"))
			first = s
		}, timeout, poll).Should(Succeed())
		clientBefore := &corev1.Secret{}
		Expect(get(ctx, ns, "expo-client-tls", clientBefore)()).To(Succeed())

		// A changed SAN set re-issues the server certificate: the new name
		// and address in, the dropped ones out.
		mutate(ctx, ns, "expo", func(c *etcdv1.EtcdCluster) {
			c.Spec.TLS.ExtraSANs = []string{"etcd2.example.test", "2001:db8::7"}
		})
		Eventually(func(g Gomega) {
			s, names, ips := serverCert(g)
			g.Expect(names).To(ContainElement("etcd2.example.test"))
			g.Expect(names).NotTo(ContainElement("etcd.example.test"))
			g.Expect(ips).To(ContainElement(net.ParseIP("2001:db8::7").String()))
			g.Expect(ips).NotTo(ContainElement("198.18.7.7"))
			g.Expect(s.Data["tls.key"]).NotTo(Equal(first.Data["tls.key"]))
		}, timeout, poll).Should(Succeed())
		clientAfter := &corev1.Secret{}
		Expect(get(ctx, ns, "expo-client-tls", clientAfter)()).To(Succeed())
		Expect(clientAfter.Data).To(Equal(clientBefore.Data), "the client certificate does not carry the SANs and stays")

		// Back to ClusterIP: no node port, and the status says so.
		mutate(ctx, ns, "expo", func(c *etcdv1.EtcdCluster) {
			c.Spec.Service = etcdv1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}
		})
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "expo-client", svc)()).To(Succeed())
			g.Expect(svc.Spec.Type).To(Equal(corev1.ServiceTypeClusterIP))
			g.Expect(svc.Spec.Ports[0].NodePort).To(BeZero())
			g.Expect(svc.Annotations).NotTo(HaveKey("example.com/lb"))
			got := &etcdv1.EtcdCluster{}
			g.Expect(get(ctx, ns, "expo", got)()).To(Succeed())
			g.Expect(got.Status.Service).To(Equal(&etcdv1.ServiceStatus{Type: corev1.ServiceTypeClusterIP}))
		}, timeout, poll).Should(Succeed())
	})

	It("reports a node port another Service holds as ServiceRefused, and goes on once spec.service is fixed", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		first := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "holder", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{
			Replicas: ptr.To[int32](1), Service: etcdv1.ServiceSpec{Type: corev1.ServiceTypeNodePort, NodePort: ptr.To[int32](31380)}}}
		Expect(k8s.Create(ctx, first)).To(Succeed())
		Eventually(get(ctx, ns, "holder-client", &corev1.Service{}), timeout, poll).Should(Succeed())
		second := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "clash", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{
			Replicas: ptr.To[int32](1), Service: etcdv1.ServiceSpec{Type: corev1.ServiceTypeNodePort, NodePort: ptr.To[int32](31380)}}}
		Expect(k8s.Create(ctx, second)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &etcdv1.EtcdCluster{}
			g.Expect(get(ctx, ns, "clash", got)()).To(Succeed())
			cond := meta.FindStatusCondition(got.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonServiceRefused))
			g.Expect(cond.Message).To(ContainSubstring("clash-client"))
			g.Expect(cond.Message).To(ContainSubstring("31380"))
		}, timeout, poll).Should(Succeed())

		mutate(ctx, ns, "clash", func(c *etcdv1.EtcdCluster) { c.Spec.Service.NodePort = nil })
		Eventually(func(g Gomega) {
			svc := &corev1.Service{}
			g.Expect(get(ctx, ns, "clash-client", svc)()).To(Succeed())
			g.Expect(svc.Spec.Ports[0].NodePort).NotTo(BeZero())
			g.Expect(svc.Spec.Ports[0].NodePort).NotTo(Equal(int32(31380)))
			got := &etcdv1.EtcdCluster{}
			g.Expect(get(ctx, ns, "clash", got)()).To(Succeed())
			g.Expect(got.Status.Service).NotTo(BeNil())
			g.Expect(got.Status.Service.NodePort).To(Equal(svc.Spec.Ports[0].NodePort))
			cond := meta.FindStatusCondition(got.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(cond == nil || cond.Reason != etcdv1.ReasonServiceRefused).To(BeTrue(), "still %+v", cond)
		}, timeout, poll).Should(Succeed())
	})
})
