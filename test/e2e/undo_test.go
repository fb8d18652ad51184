//go:build e2e

package e2e

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// memberUIDs maps member pod names to their UIDs: a changed UID is a
// restarted member.
func memberUIDs(ctx context.Context, ns, name string) map[string]types.UID {
	pods := &corev1.PodList{}
	Expect(k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{etcdv1.LabelInstance: name, etcdv1.LabelName: etcdv1.NameValue})).To(Succeed())
	out := map[string]types.UID{}
	for _, p := range pods.Items {
		out[p.Name] = p.UID
	}
	return out
}

// countEvents counts the cluster's events with reason.
func countEvents(ctx context.Context, ns, reason string) int {
	evs := &eventsv1.EventList{}
	Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
	n := 0
	for _, e := range evs.Items {
		if e.Reason == reason {
			n++
		}
	}
	return n
}

// change patches the cluster's spec with mut.
func change(ctx context.Context, ns, name string, mut func(*etcdv1.EtcdCluster)) {
	GinkgoHelper()
	c := &etcdv1.EtcdCluster{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
	patch := client.MergeFrom(c.DeepCopy())
	mut(c)
	Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
}

// waitProgressing waits for Progressing with status and reason, and a
// message containing each of words, and returns the message.
func waitProgressing(ctx context.Context, ns, name string, status bool, reason string, timeout time.Duration, words ...string) string {
	GinkgoHelper()
	var msg string
	Eventually(func(g Gomega) {
		c := &etcdv1.EtcdCluster{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionProgressing)
		g.Expect(cond).NotTo(BeNil())
		g.Expect(cond.ObservedGeneration).To(Equal(c.Generation))
		g.Expect(cond.Reason).To(Equal(reason), "%+v", cond)
		g.Expect(cond.Status == "True").To(Equal(status), "%+v", cond)
		for _, w := range words {
			g.Expect(cond.Message).To(ContainSubstring(w))
		}
		msg = cond.Message
	}).WithContext(ctx).WithTimeout(timeout).WithPolling(2 * time.Second).Should(Succeed())
	return msg
}

var _ = Describe("Undoing a bad change", func() {
	It("refuses a missing image and an option etcd rejects before any restart, and heals an OOM-killed member on revert, losing no acknowledged write", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "undo", 3, func(c *etcdv1.EtcdCluster) {
			// Under the writer, etcd outgrows a 20Mi limit only after a
			// minute or two: a restarted member must stay ready for five
			// minutes before the next one is restarted, and one that has
			// crashed by its 60s deadline halts the rollout.
			c.Spec.Rollout.ProgressDeadlineSeconds = ptr.To[int32](60)
			c.Spec.Rollout.MinReadySeconds = ptr.To[int32](300)
		})
		orig := waitAvailable(ctx, ns, "undo", 3)
		tlsCfg := clientTLS(ctx, ns, "undo")
		w := startWriter(ctx, etcdClient(podEndpoints(ctx, ns, "undo", "https"), tlsCfg))
		before := memberUIDs(ctx, ns, "undo")

		By("asking for an etcd version whose image does not exist: refused before any restart")
		change(ctx, ns, "undo", func(c *etcdv1.EtcdCluster) { c.Spec.Version = "3.7.99" })
		msg := waitProgressing(ctx, ns, "undo", false, etcdv1.ReasonRolloutBlocked, 3*time.Minute, "cannot be pulled")
		GinkgoWriter.Printf("blocked: %s\n", msg)
		Expect(memberUIDs(ctx, ns, "undo")).To(Equal(before), "a member was restarted")
		change(ctx, ns, "undo", func(c *etcdv1.EtcdCluster) { c.Spec.Version = orig.Spec.Version })
		waitProgressing(ctx, ns, "undo", false, etcdv1.ReasonReconciled, 2*time.Minute)
		waitSettled(ctx, ns, "undo", 3)

		By("setting an etcd option to a value etcd refuses: refused before any restart, with etcd's message")
		change(ctx, ns, "undo", func(c *etcdv1.EtcdCluster) { c.Spec.EtcdOptions = map[string]string{"snapshot-count": "lots"} })
		msg = waitProgressing(ctx, ns, "undo", false, etcdv1.ReasonRolloutBlocked, 3*time.Minute, "snapshot-count")
		GinkgoWriter.Printf("blocked: %s\n", msg)
		Expect(memberUIDs(ctx, ns, "undo")).To(Equal(before), "a member was restarted")
		change(ctx, ns, "undo", func(c *etcdv1.EtcdCluster) { c.Spec.EtcdOptions = nil })
		waitProgressing(ctx, ns, "undo", false, etcdv1.ReasonReconciled, 2*time.Minute)
		waitSettled(ctx, ns, "undo", 3)
		Expect(countEvents(ctx, ns, "MemberRestarted")).To(BeZero())

		By("setting a memory limit etcd cannot live in: the first restarted member is OOM-killed, the rollout halts and is rolled back")
		change(ctx, ns, "undo", func(c *etcdv1.EtcdCluster) {
			c.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("20Mi")}
		})
		msg = waitProgressing(ctx, ns, "undo", false, etcdv1.ReasonRolloutStuck, 5*time.Minute, "OOMKilled", "rolled back")
		GinkgoWriter.Printf("stuck: %s\n", msg)
		c := &etcdv1.EtcdCluster{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "undo"}, c)).To(Succeed())
		Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable)).To(BeTrue(), "%+v", c.Status.Conditions)
		Expect(c.StuckRollout()).NotTo(BeNil())
		stuck := c.StuckRollout().Pod
		for name, uid := range memberUIDs(ctx, ns, "undo") {
			if name != stuck {
				Expect(uid).To(Equal(before[name]), "%s was restarted with the bad spec too", name)
			}
		}
		// memoryLimit is the memory limit of a pod spec's etcd container.
		memoryLimit := func(spec corev1.PodSpec) string {
			q := spec.Containers[0].Resources.Limits[corev1.ResourceMemory]
			return q.String()
		}
		Eventually(func(g Gomega) {
			sts := &appsv1.StatefulSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "undo"}, sts)).To(Succeed())
			g.Expect(memoryLimit(sts.Spec.Template.Spec)).To(Equal("0"), "the StatefulSet still has the broken template")
			g.Expect(countEvents(ctx, ns, etcdv1.ReasonRolloutRolledBack)).To(Equal(1))
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(2 * time.Second).Should(Succeed())

		// healthySpec waits for member pod name, other than the one with
		// UID not, to be Ready with the last healthy spec; it counts the
		// polls that found the cluster not Available.
		unavailable := 0
		healthySpec := func(name string, not types.UID) {
			GinkgoHelper()
			Eventually(func(g Gomega) {
				c := &etcdv1.EtcdCluster{}
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "undo"}, c)).To(Succeed())
				if !meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable) {
					unavailable++
				}
				pod := &corev1.Pod{}
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pod)).To(Succeed())
				g.Expect(pod.UID).NotTo(Equal(not))
				g.Expect(pod.DeletionTimestamp).To(BeNil())
				g.Expect(memoryLimit(pod.Spec)).To(Equal("0"), "%s runs the broken spec", name)
				ready := false
				for _, cond := range pod.Status.Conditions {
					ready = ready || (cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue)
				}
				g.Expect(ready).To(BeTrue(), "%+v", pod.Status)
			}).WithContext(ctx).WithTimeout(4 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		}

		By("the stuck member is replaced with the last healthy spec: every member healthy, the change still halted")
		healthySpec(stuck, "")
		waitAvailable(ctx, ns, "undo", 3)
		waitProgressing(ctx, ns, "undo", false, etcdv1.ReasonRolloutStuck, time.Minute, stuck)

		By("deleting another member pod while the change is halted: it comes back Ready with the last healthy spec, the cluster stays available")
		victim := map[string]string{"undo-0": "undo-1"}[stuck]
		if victim == "" {
			victim = "undo-0"
		}
		healed := memberUIDs(ctx, ns, "undo")
		Expect(k8s.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: victim}})).To(Succeed())
		unavailable = 0
		healthySpec(victim, healed[victim])
		Expect(unavailable).To(BeZero(), "the cluster was unavailable while a member restarted")
		waitAvailable(ctx, ns, "undo", 3)
		waitProgressing(ctx, ns, "undo", false, etcdv1.ReasonRolloutStuck, time.Minute, stuck)
		halted := memberUIDs(ctx, ns, "undo")

		By("reverting: nothing left to restart, the halt clears")
		change(ctx, ns, "undo", func(c *etcdv1.EtcdCluster) { c.Spec.Resources.Limits = nil })
		waitProgressing(ctx, ns, "undo", false, etcdv1.ReasonReconciled, 4*time.Minute)
		waitSettled(ctx, ns, "undo", 3)
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "undo"}, c)).To(Succeed())
		Expect(c.Status.Rollout).To(BeNil())
		// The broken member was replaced at once when it was down, or
		// restarted as an outdated member when it was between two kills.
		Expect(countEvents(ctx, ns, "BrokenMemberReplaced")+countEvents(ctx, ns, "MemberRestarted")).To(Equal(2), "a healthy member was restarted")
		Expect(memberUIDs(ctx, ns, "undo")).To(Equal(halted), "the revert restarted a member")
		changed := 0
		for name, uid := range before {
			if halted[name] != uid {
				changed++
			}
		}
		Expect(changed).To(Equal(2), "only the broken member and the deleted one were ever restarted: before %v after %v", before, halted)

		acked, failed := w.finish()
		GinkgoWriter.Printf("writes acknowledged %d, failed %d, largest gap %v\n", len(acked), failed, w.maxGap)
		Expect(acked).NotTo(BeEmpty())
		By("reading every acknowledged write and comparing the members")
		expectAllWritten(ctx, etcdClient(podEndpoints(ctx, ns, "undo", "https"), tlsCfg), acked)
		expectEqualHashKV(ctx, ns, "undo", tlsCfg)
	}, SpecTimeout(17*time.Minute))

	It("holds a refused option back from a member pod restarted meanwhile: it comes back with the running spec, the cluster stays available, and a revert clears the block", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "hold", 3, nil)
		waitAvailable(ctx, ns, "hold", 3)
		tlsCfg := clientTLS(ctx, ns, "hold")
		w := startWriter(ctx, etcdClient(podEndpoints(ctx, ns, "hold", "https"), tlsCfg))
		sts := &appsv1.StatefulSet{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hold"}, sts)).To(Succeed())
		running, ok := render.RevisionOf(sts.Spec.Template.ObjectMeta, sts.Spec.Template.Spec)
		Expect(ok).To(BeTrue())

		By("setting an etcd option to a value etcd refuses: blocked")
		change(ctx, ns, "hold", func(c *etcdv1.EtcdCluster) { c.Spec.EtcdOptions = map[string]string{"snapshot-count": "lots"} })
		msg := waitProgressing(ctx, ns, "hold", false, etcdv1.ReasonRolloutBlocked, 3*time.Minute, "snapshot-count")
		GinkgoWriter.Printf("blocked: %s\n", msg)
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hold"}, sts)).To(Succeed())
		held, _ := render.RevisionOf(sts.Spec.Template.ObjectMeta, sts.Spec.Template.Spec)
		Expect(held).To(Equal(running), "the refused options reached the members' template")

		By("deleting a member pod while the change is blocked: it comes back Ready with the running spec")
		before := memberUIDs(ctx, ns, "hold")
		victim := &corev1.Pod{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hold-1"}, victim)).To(Succeed())
		Expect(k8s.Delete(ctx, victim)).To(Succeed())
		Eventually(func(g Gomega) {
			pod := &corev1.Pod{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hold-1"}, pod)).To(Succeed())
			g.Expect(pod.UID).NotTo(Equal(before["hold-1"]))
			g.Expect(pod.DeletionTimestamp).To(BeNil())
			rev, ok := render.RevisionOf(pod.ObjectMeta, pod.Spec)
			g.Expect(ok).To(BeTrue())
			g.Expect(rev).To(Equal(running), "the member came back with the refused change")
			ready := false
			for _, cond := range pod.Status.Conditions {
				ready = ready || (cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue)
			}
			g.Expect(ready).To(BeTrue(), "%+v", pod.Status)
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			c := &etcdv1.EtcdCluster{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hold"}, c)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable)).To(BeTrue(), "%+v", c.Status.Conditions)
			g.Expect(c.Status.Members).To(HaveLen(3))
			for _, m := range c.Status.Members {
				g.Expect(m.Healthy).To(BeTrue(), "%+v", m)
			}
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		waitProgressing(ctx, ns, "hold", false, etcdv1.ReasonRolloutBlocked, time.Minute, "snapshot-count")
		after := memberUIDs(ctx, ns, "hold")
		Expect(after["hold-0"]).To(Equal(before["hold-0"]))
		Expect(after["hold-2"]).To(Equal(before["hold-2"]))

		By("reverting: nothing to roll out, the block clears")
		change(ctx, ns, "hold", func(c *etcdv1.EtcdCluster) { c.Spec.EtcdOptions = nil })
		waitProgressing(ctx, ns, "hold", false, etcdv1.ReasonReconciled, 2*time.Minute)
		waitSettled(ctx, ns, "hold", 3)
		Expect(countEvents(ctx, ns, "MemberRestarted")).To(BeZero())
		Expect(memberUIDs(ctx, ns, "hold")).To(Equal(after), "a member was restarted by the revert")

		acked, failed := w.finish()
		GinkgoWriter.Printf("writes acknowledged %d, failed %d, largest gap %v\n", len(acked), failed, w.maxGap)
		Expect(acked).NotTo(BeEmpty())
		expectAllWritten(ctx, etcdClient(podEndpoints(ctx, ns, "hold", "https"), tlsCfg), acked)
		expectEqualHashKV(ctx, ns, "hold", tlsCfg)
	}, SpecTimeout(10*time.Minute))
})
