//go:build e2e

package e2e

import (
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var _ = Describe("Upgrade", func() {
	It("upgrades a 3-member cluster from etcd 3.6 to 3.7 one member at a time, losing no acknowledged write", func(ctx SpecContext) {
		prev := os.Getenv("E2E_PREV_ETCD_VERSION")
		Expect(prev).NotTo(BeEmpty(), "hack/e2e.sh sets E2E_PREV_ETCD_VERSION")
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "up", 3, func(c *etcdv1.EtcdCluster) { c.Spec.Version = prev })
		c := waitAvailable(ctx, ns, "up", 3)
		for _, m := range c.Status.Members {
			Expect(m.Version).To(Equal(prev), "%+v", c.Status.Members)
		}
		tlsCfg := clientTLS(ctx, ns, "up")
		w := startWriter(ctx, etcdClient(podEndpoints(ctx, ns, "up", "https"), tlsCfg))

		By("asking for etcd 3.7.3")
		patch := client.MergeFrom(c.DeepCopy())
		c.Spec.Version = "3.7.3"
		Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "up"}, c)).To(Succeed())
			g.Expect(c.Status.Members).To(HaveLen(3))
			for _, m := range c.Status.Members {
				g.Expect(m.Version).To(Equal("3.7.3"), "%+v", c.Status.Members)
				g.Expect(m.Healthy).To(BeTrue(), "%+v", c.Status.Members)
			}
		}).WithContext(ctx).WithTimeout(8 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		waitSettled(ctx, ns, "up", 3)
		acked, failed := w.finish()
		GinkgoWriter.Printf("writes acknowledged %d, failed %d, largest gap %v\n", len(acked), failed, w.maxGap)
		Expect(acked).NotTo(BeEmpty())

		By("reading every acknowledged write and comparing the members")
		cl := etcdClient(podEndpoints(ctx, ns, "up", "https"), tlsCfg)
		expectAllWritten(ctx, cl, acked)
		expectEqualHashKV(ctx, ns, "up", tlsCfg)
		st, err := cl.Status(op(ctx), podEndpoints(ctx, ns, "up", "https")[0])
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Version).To(Equal("3.7.3"))
	}, SpecTimeout(15*time.Minute))
})
