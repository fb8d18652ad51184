package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var _ = Describe("EtcdCluster volume growth", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	// setup makes a 1-member cluster of class (created with expansion
	// allowed or not) and its member's claim, bound at 1Gi, as the
	// StatefulSet controller and a provisioner would (envtest runs neither).
	setup := func(ctx SpecContext, allow bool) (ns string, c *etcdv1.EtcdCluster, class string) {
		ns = newNamespace(ctx)
		sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{GenerateName: "vol-"}, Provisioner: "test.quorum.dev/none", AllowVolumeExpansion: ptr.To(allow)}
		Expect(k8s.Create(ctx, sc)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(k8s.Delete(ctx, sc)).To(Succeed()) })
		one := resource.MustParse("1Gi")
		c = &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "vol", Namespace: ns},
			Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1), Storage: etcdv1.StorageSpec{Size: &one, StorageClassName: ptr.To(sc.Name)}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(get(ctx, ns, "vol", &appsv1.StatefulSet{}), timeout, poll).Should(Succeed())
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: c.MemberClaimName(0), Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: ptr.To(sc.Name),
				VolumeName: "pv-" + ns, Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: one}}}}
		Expect(k8s.Create(ctx, pvc)).To(Succeed())
		setCapacity(ctx, pvc, "1Gi")
		return ns, c, sc.Name
	}
	quota := func(ctx SpecContext, ns string) string { return memberOptions(ctx, ns, "vol") }
	// (1Gi - 384Mi) / 2 and (2Gi - 384Mi) / 2.
	const quota1Gi, quota2Gi = "quota-backend-bytes: 335544320", "quota-backend-bytes: 872415232"

	It("grows the member claim where the class allows it, and derives the quota from the claim only once it has grown", func(ctx SpecContext) {
		ns, c, _ := setup(ctx, true)
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "vol", c)()).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionVolumesGrown)).To(BeTrue(), "%+v", c.Status.Conditions)
		}, timeout, poll).Should(Succeed())

		mutate(ctx, ns, "vol", func(c *etcdv1.EtcdCluster) { c.Spec.Storage.Size = ptr.To(resource.MustParse("2Gi")) })
		pvc := &corev1.PersistentVolumeClaim{}
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, c.MemberClaimName(0), pvc)()).To(Succeed())
			req := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
			g.Expect(req.String()).To(Equal("2Gi"))
			g.Expect(get(ctx, ns, "vol", c)()).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionVolumesGrown)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonVolumeExpanding))
			g.Expect(cond.Message).To(ContainSubstring("has 1Gi, asked 2Gi"))
			g.Expect(c.Status.Storage.Capacity.String()).To(Equal("1Gi"))
		}, timeout, poll).Should(Succeed())
		Consistently(func() string { return quota(ctx, ns) }, time.Second, poll).Should(ContainSubstring(quota1Gi),
			"the quota follows the disk the member has, not the one it is getting")

		By("the StatefulSet's replacement waits for a settled membership (no member observed here), keeping its claim template")
		sts := &appsv1.StatefulSet{}
		Expect(get(ctx, ns, "vol", sts)()).To(Succeed())
		size := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
		Expect(size.String()).To(Equal("1Gi"))
		Expect(sts.DeletionTimestamp).To(BeNil())

		By("the resizer finishing: the new quota is checked before the members' template gets it")
		setCapacity(ctx, pvc, "2Gi")
		mutate(ctx, ns, "vol", poke)
		finishJob(ctx, preflightJob(ctx, ns, timeout, poll), true, "")
		mutate(ctx, ns, "vol", poke)
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "vol", c)()).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionVolumesGrown)).To(BeTrue(), "%+v", c.Status.Conditions)
			g.Expect(c.Status.Storage.Capacity.String()).To(Equal("2Gi"))
			g.Expect(quota(ctx, ns)).To(ContainSubstring(quota2Gi))
		}, timeout, poll).Should(Succeed())
	})

	It("refuses to grow claims of a class without expansion, says so once, and keeps the quota", func(ctx SpecContext) {
		ns, c, class := setup(ctx, false)
		mutate(ctx, ns, "vol", func(c *etcdv1.EtcdCluster) { c.Spec.Storage.Size = ptr.To(resource.MustParse("2Gi")) })
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "vol", c)()).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionVolumesGrown)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonVolumeExpansionUnsupported))
			g.Expect(cond.Message).To(ContainSubstring("StorageClass " + class + " does not allow volume expansion"))
			g.Expect(cond.Message).To(ContainSubstring("claims data-vol-0 stay at 1Gi, storage.size asks for 2Gi"))
			g.Expect(cond.Message).To(ContainSubstring("members keep running on their current claims and nothing is restarted"))
		}, timeout, poll).Should(Succeed())
		warnings := func() int {
			evs := &eventsv1.EventList{}
			Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
			n := 0
			for _, e := range evs.Items {
				if e.Reason == etcdv1.ReasonVolumeExpansionUnsupported {
					Expect(e.Type).To(Equal(corev1.EventTypeWarning))
					n++
				}
			}
			return n
		}
		Eventually(warnings, timeout, poll).Should(Equal(1))
		mutate(ctx, ns, "vol", poke)
		mutate(ctx, ns, "vol", poke)
		Consistently(warnings, 2*time.Second, poll).Should(Equal(1), "the refusal is told once, not on every pass")
		pvc := &corev1.PersistentVolumeClaim{}
		Expect(get(ctx, ns, c.MemberClaimName(0), pvc)()).To(Succeed())
		req := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		Expect(req.String()).To(Equal("1Gi"))
		Expect(quota(ctx, ns)).To(ContainSubstring(quota1Gi))
	})

	It("recreates a StatefulSet deleted half-way through its replacement with the members there are, not the desired count", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "vol", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		sts := &appsv1.StatefulSet{}
		Eventually(get(ctx, ns, "vol", sts), timeout, poll).Should(Succeed())
		// The member pods the orphaned StatefulSet leaves behind.
		for i := range 3 {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: c.MemberName(i), Namespace: ns, Labels: c.SelectorLabels()},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "etcd", Image: "quorum.dev/etcd-server:3.7.3"}}}}
			Expect(k8s.Create(ctx, pod)).To(Succeed())
		}
		By("deleting it as the replacement does, its pods orphaned (envtest has no garbage collector: the orphan finalizer stays)")
		Expect(k8s.Delete(ctx, sts, client.PropagationPolicy(metav1.DeletePropagationOrphan))).To(Succeed())
		mutate(ctx, ns, "vol", func(c *etcdv1.EtcdCluster) { c.Spec.Replicas = ptr.To[int32](5) })
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "vol", c)()).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionProgressing)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Message).To(ContainSubstring("replacing the StatefulSet"))
			g.Expect(c.Status.ObservedGeneration).To(Equal(c.Generation), "waiting is no error")
		}, timeout, poll).Should(Succeed())
		Expect(get(ctx, ns, "vol", sts)()).To(Succeed())
		oldUID := sts.UID

		By("the garbage collector finishing")
		sts.Finalizers = nil
		Expect(k8s.Update(ctx, sts)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "vol", sts)()).To(Succeed())
			g.Expect(sts.UID).NotTo(Equal(oldUID))
		}, timeout, poll).Should(Succeed())
		Expect(*sts.Spec.Replicas).To(Equal(int32(3)), "membership changes go one step at a time, after the StatefulSet is back")
	})
})

// setCapacity binds the claim at size, as a provisioner and resizer would.
func setCapacity(ctx SpecContext, pvc *corev1.PersistentVolumeClaim, size string) {
	GinkgoHelper()
	Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pvc), pvc)).To(Succeed())
	pvc.Status.Phase = corev1.ClaimBound
	pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}
	Expect(k8s.Status().Update(ctx, pvc)).To(Succeed())
}
