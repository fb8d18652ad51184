//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// fragment writes about 20 MiB under /frag/, deletes it and compacts, so
// that most of the database file is freeable. It returns the largest
// member file size after.
func fragment(ctx context.Context, cl *clientv3.Client) {
	GinkgoHelper()
	val := strings.Repeat("f", 256<<10)
	for i := 0; i < 80; i++ {
		_, err := cl.Put(op(ctx), fmt.Sprintf("/frag/%03d", i), val)
		Expect(err).NotTo(HaveOccurred())
	}
	resp, err := cl.Delete(op(ctx), "/frag/", clientv3.WithPrefix())
	Expect(err).NotTo(HaveOccurred())
	_, err = cl.Compact(op(ctx), resp.Header.Revision, clientv3.WithCompactPhysical())
	Expect(err).NotTo(HaveOccurred())
}

// memberFiles returns each member's database file size as etcd reports it.
func memberFiles(ctx context.Context, cl *clientv3.Client, eps []string) map[string]int64 {
	out := map[string]int64{}
	for _, ep := range eps {
		st, err := cl.Status(op(ctx), ep)
		Expect(err).NotTo(HaveOccurred(), ep)
		out[ep] = st.DbSize
	}
	return out
}

func patchDefrag(ctx context.Context, ns, name string, mut func(c *etcdv1.EtcdCluster)) {
	GinkgoHelper()
	c := &etcdv1.EtcdCluster{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
	patch := client.MergeFrom(c.DeepCopy())
	mut(c)
	Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
}

// expectDefragmented waits until every member was defragmented for
// trigger after since, with a smaller file after than before.
func expectDefragmented(ctx context.Context, ns, name, trigger string, since time.Time, members int) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		c := &etcdv1.EtcdCluster{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		g.Expect(c.Status.Defragmentation).NotTo(BeNil())
		n := 0
		for _, m := range c.Status.Defragmentation.Members {
			if m.Trigger == trigger && !m.Time.Time.Before(since.Truncate(time.Second)) {
				n++
				if trigger != etcdv1.DefragTriggerRequest {
					g.Expect(m.SizeAfter).To(BeNumerically("<", m.SizeBefore/2), "%+v", m)
				}
			}
		}
		g.Expect(n).To(Equal(members), "%+v", c.Status.Defragmentation)
		g.Expect(c.Status.Defragmentation.Pending).To(BeEmpty())
	}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
}

var _ = Describe("Defragmentation", func() {
	It("defragments a fragmented database by threshold, by schedule and on demand, with a writer running", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		const name = "frag"
		createCluster(ctx, ns, name, 1, nil)
		waitAvailable(ctx, ns, name, 1)
		eps := podEndpoints(ctx, ns, name, "https")
		cl := etcdClient(eps, clientTLS(ctx, ns, name))
		w := startWriter(ctx, cl)

		By("a fragmented database past the freeable threshold is defragmented")
		fragment(ctx, cl)
		before := memberFiles(ctx, cl, eps)
		start := time.Now()
		patchDefrag(ctx, ns, name, func(c *etcdv1.EtcdCluster) {
			c.Spec.Defragmentation = &etcdv1.DefragmentationSpec{FreeablePercent: ptr.To[int32](50), MinDBSize: ptr.To(resource.MustParse("4Mi"))}
		})
		expectDefragmented(ctx, ns, name, etcdv1.DefragTriggerThreshold, start, 1)
		for ep, size := range memberFiles(ctx, cl, eps) {
			Expect(size).To(BeNumerically("<", before[ep]/2), "dbSize of %s drops", ep)
		}

		By("a fragmented database is defragmented on the schedule (every minute, Berlin time), thresholds off")
		patchDefrag(ctx, ns, name, func(c *etcdv1.EtcdCluster) {
			c.Spec.Defragmentation = &etcdv1.DefragmentationSpec{Schedule: "* * * * *", TimeZone: ptr.To("Europe/Berlin")}
		})
		Eventually(func(g Gomega) {
			c := &etcdv1.EtcdCluster{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
			g.Expect(c.Status.Defragmentation.LastScheduleTime).NotTo(BeNil(), "the schedule is seen")
			// Fragment well before the next slot, so that its round finds
			// the database fragmented.
			g.Expect(time.Now().Second()).To(BeNumerically("<", 40))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())
		start = time.Now()
		fragment(ctx, cl)
		before = memberFiles(ctx, cl, eps)
		expectDefragmented(ctx, ns, name, etcdv1.DefragTriggerSchedule, start, 1)
		for ep, size := range memberFiles(ctx, cl, eps) {
			Expect(size).To(BeNumerically("<", before[ep]/2), "dbSize of %s drops", ep)
		}

		By("on demand: a new annotation value is one round, recorded as handled")
		patchDefrag(ctx, ns, name, func(c *etcdv1.EtcdCluster) {
			c.Spec.Defragmentation = nil
			metav1.SetMetaDataAnnotation(&c.ObjectMeta, etcdv1.AnnotationDefragment, "ticket-1")
		})
		start = time.Now()
		expectDefragmented(ctx, ns, name, etcdv1.DefragTriggerRequest, start, 1)
		c := &etcdv1.EtcdCluster{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		Expect(c.Status.Defragmentation.HandledRequest).To(Equal("ticket-1"))

		acked, failed := w.finish()
		GinkgoWriter.Printf("writer: %d acknowledged, %d failed\n", len(acked), failed)
		Expect(len(acked)).To(BeNumerically(">", 0))
		expectAllWritten(ctx, cl, acked)
	}, SpecTimeout(10*time.Minute))
})
