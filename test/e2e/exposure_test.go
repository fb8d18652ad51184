//go:build e2e

package e2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Issue #13 item 4: a NodePort cluster reached from the host (outside
// Kubernetes) with full certificate verification against an extra name.
var _ = Describe("Exposure", func() {
	It("serves a NodePort cluster to the host, verified against an extra SAN, and re-issues the certificate when the SANs change", func(ctx SpecContext) {
		const nodePort, name, other = 32379, "etcd.quorum-e2e.test", "etcd2.quorum-e2e.test"
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "expose", 1, func(c *etcdv1.EtcdCluster) {
			c.Spec.Service = etcdv1.ServiceSpec{Type: corev1.ServiceTypeNodePort, NodePort: ptr.To[int32](nodePort)}
			c.Spec.TLS.ExtraSANs = []string{name}
		})
		c := waitAvailable(ctx, ns, "expose", 1)
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "expose"}, c)).To(Succeed())
			g.Expect(c.Status.Service).To(Equal(&etcdv1.ServiceStatus{Type: corev1.ServiceTypeNodePort, NodePort: nodePort}))
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())

		By("dialling the node's address at the node port from the host")
		nodes := &corev1.NodeList{}
		Expect(k8s.List(ctx, nodes)).To(Succeed())
		Expect(nodes.Items).NotTo(BeEmpty())
		var nodeIP string
		for _, a := range nodes.Items[0].Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				nodeIP = a.Address
			}
		}
		Expect(nodeIP).NotTo(BeEmpty())
		ep := fmt.Sprintf("https://%s", net.JoinHostPort(nodeIP, fmt.Sprint(nodePort)))
		tlsCfg := clientTLS(ctx, ns, "expose")
		tlsCfg.ServerName = name // verified against the cluster CA and the extra name
		cli := etcdClient([]string{ep}, tlsCfg)
		Eventually(func() error {
			_, err := cli.Put(op(ctx), "/exposed", "from-the-host")
			return err
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		resp, err := cli.Get(op(ctx), "/exposed")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).To(HaveLen(1))
		Expect(string(resp.Kvs[0].Value)).To(Equal("from-the-host"))

		By("refusing a name the certificate does not carry: verification is real")
		wrong := tlsCfg.Clone()
		wrong.ServerName = other
		_, err = tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", net.JoinHostPort(nodeIP, fmt.Sprint(nodePort)), wrong)
		Expect(err).To(MatchError(ContainSubstring("certificate is valid for")))

		By("changing the extra SANs: the member serves the re-issued certificate without a restart")
		Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "expose"}, c); err != nil {
				return err
			}
			c.Spec.TLS.ExtraSANs = []string{other}
			return k8s.Update(ctx, c)
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		right := tlsCfg.Clone()
		right.ServerName = other
		changed := time.Now()
		Eventually(func() error {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", net.JoinHostPort(nodeIP, fmt.Sprint(nodePort)), right)
			if err != nil {
				return err
			}
			GinkgoWriter.Printf("served after %v: DNS names %v\n", time.Since(changed).Round(time.Second), conn.ConnectionState().PeerCertificates[0].DNSNames)
			return conn.Close()
		}).WithContext(ctx).WithTimeout(4 * time.Minute).WithPolling(3 * time.Second).Should(Succeed())
		_, err = tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", net.JoinHostPort(nodeIP, fmt.Sprint(nodePort)), tlsCfg)
		Expect(err).To(MatchError(ContainSubstring("certificate is valid for")), "the dropped name %s is still served", name)
		fresh := etcdClient([]string{ep}, right)
		resp, err = fresh.Get(op(ctx), "/exposed")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).To(HaveLen(1))
		pods := &corev1.PodList{}
		Expect(k8s.List(ctx, pods, clientInNamespace(ns))).To(Succeed())
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				Expect(cs.RestartCount).To(BeZero(), p.Name)
			}
		}
	}, SpecTimeout(10*time.Minute))
})
