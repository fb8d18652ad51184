package controllers

import (
	"context"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/contract"
)

// templateRevision is the revision the cluster's StatefulSet template runs.
func templateRevision(ctx context.Context, ns, name string) render.Revision {
	GinkgoHelper()
	sts := &appsv1.StatefulSet{}
	Expect(get(ctx, ns, name, sts)()).To(Succeed())
	rev, ok := render.RevisionOf(sts.Spec.Template.ObjectMeta, sts.Spec.Template.Spec)
	Expect(ok).To(BeTrue(), "the template names no revision")
	return rev
}

// memberOptions is the options file a member pod made now would read: the
// key of the ConfigMap the StatefulSet template names.
func memberOptions(ctx context.Context, ns, name string) string {
	GinkgoHelper()
	cm := &corev1.ConfigMap{}
	Expect(get(ctx, ns, templateRevision(ctx, ns, name).OptionsConfigMap, cm)()).To(Succeed())
	return cm.Data[render.ConfigKeyOptions]
}

// preflightJob waits for the one preflight Job of the cluster, other than
// those named in not.
func preflightJob(ctx context.Context, ns string, timeout, poll time.Duration, not ...string) *batchv1.Job {
	GinkgoHelper()
	job := &batchv1.Job{}
	Eventually(func(g Gomega) {
		list := &batchv1.JobList{}
		g.Expect(k8s.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{etcdv1.LabelComponent: render.ComponentPreflight})).To(Succeed())
		var live []batchv1.Job
		for _, j := range list.Items {
			if j.DeletionTimestamp.IsZero() && !slices.Contains(not, j.Name) {
				live = append(live, j)
			}
		}
		g.Expect(live).To(HaveLen(1))
		*job = live[0]
	}, timeout, poll).Should(Succeed())
	return job
}

var _ = Describe("EtcdCluster changes held back until their preflight check passes", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	progressing := func(ctx context.Context, ns string) *metav1.Condition {
		c := &etcdv1.EtcdCluster{}
		Expect(get(ctx, ns, "hold", c)()).To(Succeed())
		return meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionProgressing)
	}

	It("keeps the template and options the members read until the check passes, and collects options no member runs", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "hold", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(get(ctx, ns, "hold", &appsv1.StatefulSet{}), timeout, poll).Should(Succeed())
		running := templateRevision(ctx, ns, "hold")
		Expect(running.OptionsConfigMap).To(Equal("hold-options-" + running.ConfigHash))
		runningOptions := memberOptions(ctx, ns, "hold")
		Expect(runningOptions).To(ContainSubstring("quota-backend-bytes: 335544320"))
		shared := &corev1.ConfigMap{}
		Expect(get(ctx, ns, c.ConfigMapName(), shared)()).To(Succeed())
		Expect(shared.Data).NotTo(HaveKey(render.ConfigKeyOptions), "a new cluster keeps no options in the shared ConfigMap")

		By("a member pod made from the running template, on node-a")
		sts := &appsv1.StatefulSet{}
		Expect(get(ctx, ns, "hold", sts)()).To(Succeed())
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: c.MemberName(2), Namespace: ns,
			Labels: sts.Spec.Template.Labels, Annotations: sts.Spec.Template.Annotations}, Spec: *sts.Spec.Template.Spec.DeepCopy()}
		pod.Spec.NodeName = "node-a"
		// The claim the StatefulSet controller would add.
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		Expect(k8s.Create(ctx, pod)).To(Succeed())

		By("an option etcd refuses: checked on node-a, not written")
		mutate(ctx, ns, "hold", func(c *etcdv1.EtcdCluster) { c.Spec.EtcdOptions = map[string]string{"snapshot-count": "lots"} })
		job := preflightJob(ctx, ns, timeout, poll)
		Expect(job.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values).To(Equal([]string{"node-a"}))
		Expect(job.Spec.Template.Annotations[render.AnnotationPreflightOptions]).To(ContainSubstring(`snapshot-count: "lots"`))
		Eventually(func(g Gomega) {
			cond := progressing(ctx, ns)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonRollingOut))
			g.Expect(cond.Message).To(ContainSubstring("checking the new spec (Job " + job.Name))
		}, timeout, poll).Should(Succeed())
		unchanged := func(g Gomega) {
			g.Expect(templateRevision(ctx, ns, "hold")).To(Equal(running))
			g.Expect(memberOptions(ctx, ns, "hold")).To(Equal(runningOptions))
			list := &corev1.ConfigMapList{}
			g.Expect(k8s.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{etcdv1.LabelComponent: render.ComponentOptions})).To(Succeed())
			g.Expect(list.Items).To(HaveLen(1), "options of an unchecked change were written")
			g.Expect(get(ctx, ns, c.ConfigMapName(), shared)()).To(Succeed())
			g.Expect(shared.Data).NotTo(HaveKey(render.ConfigKeyOptions))
		}
		Consistently(unchanged, 2*time.Second, poll).Should(Succeed())

		By("the check refuses it: blocked, still not written")
		finishJob(ctx, job, false, contract.PreflightRefusedPrefix+`etcd options: cannot unmarshal string into Go struct field configYAML.snapshot-count of type uint64`)
		mutate(ctx, ns, "hold", poke)
		Eventually(func(g Gomega) {
			cond := progressing(ctx, ns)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonRolloutBlocked))
			g.Expect(cond.Message).To(ContainSubstring("snapshot-count"))
		}, timeout, poll).Should(Succeed())
		mutate(ctx, ns, "hold", poke)
		Consistently(unchanged, 2*time.Second, poll).Should(Succeed())

		By("reverting: the running revision again, nothing to check, the block clears")
		mutate(ctx, ns, "hold", func(c *etcdv1.EtcdCluster) { c.Spec.EtcdOptions = nil })
		Eventually(func(g Gomega) {
			cond := progressing(ctx, ns)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).NotTo(Equal(etcdv1.ReasonRolloutBlocked))
			j := &batchv1.Job{}
			err := get(ctx, ns, job.Name, j)()
			g.Expect(apierrors.IsNotFound(err) || !j.DeletionTimestamp.IsZero()).To(BeTrue(), "the refused check is left")
		}, timeout, poll).Should(Succeed())
		Expect(templateRevision(ctx, ns, "hold")).To(Equal(running))

		By("a change the check accepts is written once it passed, in a ConfigMap of its own")
		mutate(ctx, ns, "hold", func(c *etcdv1.EtcdCluster) { c.Spec.EtcdOptions = map[string]string{"snapshot-count": "5000"} })
		job = preflightJob(ctx, ns, timeout, poll)
		Consistently(unchanged, time.Second, poll).Should(Succeed())
		finishJob(ctx, job, true, "")
		mutate(ctx, ns, "hold", poke)
		Eventually(func(g Gomega) {
			g.Expect(templateRevision(ctx, ns, "hold")).NotTo(Equal(running))
			g.Expect(memberOptions(ctx, ns, "hold")).To(ContainSubstring("snapshot-count: 5000"))
		}, timeout, poll).Should(Succeed())
		Expect(get(ctx, ns, running.OptionsConfigMap, &corev1.ConfigMap{})()).To(Succeed(), "the options of a pod still running them were deleted")

		By("the last pod of the old revision gone, its options are deleted")
		Expect(k8s.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
		mutate(ctx, ns, "hold", poke)
		Eventually(func() bool {
			return apierrors.IsNotFound(get(ctx, ns, running.OptionsConfigMap, &corev1.ConfigMap{})())
		}, timeout, poll).Should(BeTrue())
	})

	It("leaves a cluster made by an earlier operator version as it runs, its options in the cluster ConfigMap, until its next change", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "legacy", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		sts := &appsv1.StatefulSet{}
		Eventually(get(ctx, ns, "legacy", sts), timeout, poll).Should(Succeed())
		options := memberOptions(ctx, ns, "legacy")

		By("what an earlier version made: the template mounts the options from the cluster ConfigMap, which holds them")
		before := sts.DeepCopy()
		for i, v := range sts.Spec.Template.Spec.Volumes {
			if v.ConfigMap != nil && v.Name == "config" {
				sts.Spec.Template.Spec.Volumes[i].ConfigMap.Name = c.ConfigMapName()
			}
		}
		Expect(k8s.Patch(ctx, sts, client.MergeFrom(before))).To(Succeed())
		// Written as that version did: applied under the operator's field owner.
		shared := &corev1.ConfigMap{}
		Expect(get(ctx, ns, c.ConfigMapName(), shared)()).To(Succeed())
		old := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": c.ConfigMapName(), "namespace": ns},
			"data":     map[string]any{render.ConfigKeyOptions: options},
		}}
		for k, v := range shared.Data {
			Expect(unstructured.SetNestedField(old.Object, v, "data", k)).To(Succeed())
		}
		Expect(k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(old), client.FieldOwner("quorum-operator"), client.ForceOwnership)).To(Succeed())
		generation := sts.Generation

		mutate(ctx, ns, "legacy", poke)
		Consistently(func(g Gomega) {
			g.Expect(get(ctx, ns, "legacy", sts)()).To(Succeed())
			g.Expect(sts.Generation).To(Equal(generation), "the template was changed: members would restart")
			g.Expect(templateRevision(ctx, ns, "legacy").OptionsConfigMap).To(Equal(c.ConfigMapName()))
			g.Expect(get(ctx, ns, c.ConfigMapName(), shared)()).To(Succeed())
			g.Expect(shared.Data[render.ConfigKeyOptions]).To(Equal(options))
		}, 2*time.Second, poll).Should(Succeed())

		By("a refused change leaves the old options where the members read them")
		mutate(ctx, ns, "legacy", func(c *etcdv1.EtcdCluster) { c.Spec.EtcdOptions = map[string]string{"snapshot-count": "lots"} })
		refused := preflightJob(ctx, ns, timeout, poll)
		finishJob(ctx, refused, false, contract.PreflightRefusedPrefix+"snapshot-count")
		mutate(ctx, ns, "legacy", poke)
		Eventually(func(g Gomega) {
			cl := &etcdv1.EtcdCluster{}
			g.Expect(get(ctx, ns, "legacy", cl)()).To(Succeed())
			cond := meta.FindStatusCondition(cl.Status.Conditions, etcdv1.ConditionProgressing)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonRolloutBlocked))
		}, timeout, poll).Should(Succeed())
		Expect(get(ctx, ns, "legacy", sts)()).To(Succeed())
		Expect(sts.Generation).To(Equal(generation))
		Expect(get(ctx, ns, c.ConfigMapName(), shared)()).To(Succeed())
		Expect(shared.Data[render.ConfigKeyOptions]).To(Equal(options))

		By("a change that passes moves the members to options of their own; the cluster ConfigMap drops its copy")
		mutate(ctx, ns, "legacy", func(c *etcdv1.EtcdCluster) { c.Spec.EtcdOptions = map[string]string{"snapshot-count": "5000"} })
		finishJob(ctx, preflightJob(ctx, ns, timeout, poll, refused.Name), true, "")
		mutate(ctx, ns, "legacy", poke)
		Eventually(func(g Gomega) {
			g.Expect(templateRevision(ctx, ns, "legacy").OptionsConfigMap).To(HavePrefix("legacy-options-"))
			g.Expect(memberOptions(ctx, ns, "legacy")).To(ContainSubstring("snapshot-count: 5000"))
			mutate(ctx, ns, "legacy", poke)
			g.Expect(get(ctx, ns, c.ConfigMapName(), shared)()).To(Succeed())
			g.Expect(shared.Data).NotTo(HaveKey(render.ConfigKeyOptions))
		}, timeout, time.Second).Should(Succeed())
	})
})
