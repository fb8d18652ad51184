//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// nospaceQuota is small so that filling it takes seconds.
var nospaceQuota = resource.MustParse("16Mi")

// fillUntilNoSpace puts 256 KiB values under /fill/ until etcd refuses one
// with NOSPACE, and returns when it did.
func fillUntilNoSpace(ctx context.Context, cl *clientv3.Client) time.Time {
	GinkgoHelper()
	val := strings.Repeat("x", 256<<10)
	for i := 0; i < 400; i++ {
		_, err := cl.Put(op(ctx), fmt.Sprintf("/fill/%04d", i), val)
		if errors.Is(err, rpctypes.ErrNoSpace) || (err != nil && strings.Contains(err.Error(), rpctypes.ErrNoSpace.Error())) {
			return time.Now()
		}
		Expect(err).NotTo(HaveOccurred(), "put %d", i)
	}
	Fail("400 puts of 256 KiB did not reach a 16 MiB quota")
	return time.Time{}
}

// degradedReason is the reason of Degraded when it is True, else "".
func degradedReason(g Gomega, ctx context.Context, ns, name string) (*etcdv1.EtcdCluster, string) {
	c := &etcdv1.EtcdCluster{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
	d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
	if d == nil || d.Status != "True" {
		return c, ""
	}
	return c, d.Reason
}

// noSpaceRecovers is the NOSPACE story on one cluster: filled until NOSPACE
// with a writer running, reported within 30 s without members counted as
// down, backed up while NOSPACE, keys deleted, then writes resume with no
// manual command; every acknowledged write is kept. With raiseQuota the
// cluster is then filled again and NOSPACE is ended the other way: the
// live data stays and spec.quota.backendBytes is raised.
func noSpaceRecovers(ctx SpecContext, members int, raiseQuota bool) {
	ns := newNamespace(ctx)
	const name = "full"
	createCluster(ctx, ns, name, int32(members), func(c *etcdv1.EtcdCluster) {
		c.Spec.Quota.BackendBytes = &nospaceQuota
	})
	waitAvailable(ctx, ns, name, members)
	tlsCfg := clientTLS(ctx, ns, name)
	cl := etcdClient(podEndpoints(ctx, ns, name, "https"), tlsCfg)
	w := startWriter(ctx, cl)

	By("filling the quota until etcd raises NOSPACE")
	refused := fillUntilNoSpace(ctx, cl)

	By("the operator reports NoSpace within 30 s, every member up with the alarm")
	var reported time.Time
	Eventually(func(g Gomega) {
		c, reason := degradedReason(g, ctx, ns, name)
		g.Expect(reason).To(Equal(etcdv1.ReasonNoSpace), "conditions %+v", c.Status.Conditions)
		g.Expect(c.Status.Members).To(HaveLen(members))
		alarmed := 0
		for _, m := range c.Status.Members {
			g.Expect(m.Healthy).To(BeTrue(), "an alarm is not death: %+v", m)
			if slices.Contains(m.Alarms, "NOSPACE") {
				alarmed++
			}
			g.Expect(m.DBSizeInUse).To(BeNumerically(">", 0), "%+v", m)
		}
		g.Expect(alarmed).To(BeNumerically(">", 0), "members %+v", c.Status.Members)
		g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable)).To(BeTrue())
		reported = time.Now()
	}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(Succeed())
	GinkgoWriter.Printf("NOSPACE reported %s after the first refused put\n", reported.Sub(refused).Round(time.Second))

	By("live data fills the quota: the operator says so and does not loop")
	Eventually(func(g Gomega) {
		c, reason := degradedReason(g, ctx, ns, name)
		g.Expect(reason).To(Equal(etcdv1.ReasonNoSpace))
		msg := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded).Message
		g.Expect(msg).To(And(ContainSubstring("of its quota"), ContainSubstring("spec.quota.backendBytes")), msg)
	}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())

	By("a backup taken while NOSPACE is raised succeeds (a snapshot only reads)")
	Expect(k8s.Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1ObjectMeta(ns, "backups"), Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("256Mi")}},
	}})).To(Succeed())
	Expect(k8s.Create(ctx, &etcdv1.EtcdBackup{ObjectMeta: metav1ObjectMeta(ns, "during-nospace"), Spec: etcdv1.EtcdBackupSpec{
		ClusterName: name, Destination: etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "backups"}}}})).To(Succeed())
	b := waitBackup(ctx, ns, "during-nospace")
	Expect(b.Status.Phase).To(Equal(etcdv1.BackupSucceeded), "%+v", b.Status)
	_, reason := degradedReason(Default, ctx, ns, name)
	Expect(reason).To(Equal(etcdv1.ReasonNoSpace), "still NOSPACE: the backup ran during it")

	By("deleting the filler keys; writes resume with no manual command")
	w.mu.Lock()
	ackedBefore := len(w.acked)
	w.mu.Unlock()
	_, err := cl.Delete(op(ctx), "/fill/", clientv3.WithPrefix())
	Expect(err).NotTo(HaveOccurred(), "deletes are allowed under NOSPACE")
	Eventually(func(g Gomega) {
		_, err := cl.Put(op(ctx), "/probe", "after")
		g.Expect(err).NotTo(HaveOccurred())
		c, reason := degradedReason(g, ctx, ns, name)
		g.Expect(reason).NotTo(Equal(etcdv1.ReasonNoSpace))
		for _, m := range c.Status.Members {
			g.Expect(m.Alarms).To(BeEmpty(), "%+v", m)
		}
	}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())

	c := &etcdv1.EtcdCluster{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
	Expect(c.Status.Defragmentation).NotTo(BeNil())
	Expect(c.Status.Defragmentation.CompactedRevision).To(BeNumerically(">", 0))
	Expect(c.Status.Defragmentation.Members).To(HaveLen(members), "each member defragmented once: %+v", c.Status.Defragmentation)
	for _, m := range c.Status.Defragmentation.Members {
		Expect(m.Trigger).To(Equal(etcdv1.DefragTriggerNoSpace))
		Expect(m.SizeAfter).To(BeNumerically("<", m.SizeBefore), "%+v", m)
	}

	Eventually(func() int { w.mu.Lock(); defer w.mu.Unlock(); return len(w.acked) }).
		WithContext(ctx).WithTimeout(30*time.Second).Should(BeNumerically(">", ackedBefore+5), "the writer's puts succeed again")

	if raiseQuota {
		By("filled again, the live data kept: raising quota.backendBytes ends NOSPACE")
		fillUntilNoSpace(ctx, cl)
		Eventually(func(g Gomega) {
			c, reason := degradedReason(g, ctx, ns, name)
			g.Expect(reason).To(Equal(etcdv1.ReasonNoSpace))
			msg := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded).Message
			g.Expect(msg).To(ContainSubstring("spec.quota.backendBytes"), msg)
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		raised := resource.MustParse("64Mi")
		c := &etcdv1.EtcdCluster{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		patch := client.MergeFrom(c.DeepCopy())
		c.Spec.Quota.BackendBytes = &raised
		Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
		// The raise restarts the member (a rollout): its pod comes back
		// with a new address, so the check goes through the Service.
		cl = serviceClient(ctx, ns, name, tlsCfg)
		Eventually(func(g Gomega) {
			_, err := cl.Put(op(ctx), "/probe", "after the raise")
			g.Expect(err).NotTo(HaveOccurred())
			c, reason := degradedReason(g, ctx, ns, name)
			g.Expect(reason).NotTo(Equal(etcdv1.ReasonNoSpace))
			g.Expect(c.Status.ObservedGeneration).To(Equal(c.Generation))
			for _, m := range c.Status.Members {
				g.Expect(m.Alarms).To(BeEmpty(), "%+v", m)
			}
		}).WithContext(ctx).WithTimeout(5 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		resp, err := cl.Get(op(ctx), "/fill/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Count).To(BeNumerically(">", 0), "the live data was kept")
	}

	By("every acknowledged write is still there")
	acked, failed := w.finish()
	GinkgoWriter.Printf("writer: %d acknowledged, %d refused (NOSPACE)\n", len(acked), failed)
	expectAllWritten(ctx, cl, acked)
	if members > 1 {
		expectEqualHashKV(ctx, ns, name, tlsCfg)
	}
}

var _ = Describe("NOSPACE", func() {
	It("a 1-member cluster recovers from NOSPACE by itself once keys are deleted, and by a raised quota", func(ctx SpecContext) {
		noSpaceRecovers(ctx, 1, true)
	}, SpecTimeout(15*time.Minute))
	It("a 3-member cluster recovers from NOSPACE by itself once keys are deleted", func(ctx SpecContext) {
		noSpaceRecovers(ctx, 3, false)
	}, SpecTimeout(12*time.Minute))
})
