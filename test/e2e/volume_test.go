//go:build e2e

package e2e

import (
	"fmt"
	"strings"
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

// The local cluster's classes (hack/cluster/config.sh): the default one
// lets hack/provisioner grow volumes, the fixed one does not.
const fixedStorageClass = "quorum-local-fixed"

// memberPod is what must not change while volumes grow.
type memberPod struct {
	uid        types.UID
	restarts   int32
	configHash string
}

func memberPods(ctx SpecContext, ns, name string) map[string]memberPod {
	GinkgoHelper()
	pods := &corev1.PodList{}
	Expect(k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{etcdv1.LabelInstance: name, etcdv1.LabelName: etcdv1.NameValue})).To(Succeed())
	out := map[string]memberPod{}
	for _, p := range pods.Items {
		var restarts int32
		for _, s := range p.Status.ContainerStatuses {
			restarts += s.RestartCount
		}
		out[p.Name] = memberPod{uid: p.UID, restarts: restarts, configHash: p.Annotations[render.AnnotationConfigHash]}
	}
	return out
}

// expectNotRestarted fails the spec at once when a member pod was
// recreated or its container restarted while running the configuration
// it started with: only the quota rollout (a new config hash) may restart
// members, and it can start only once every claim has grown.
func expectNotRestarted(ctx SpecContext, ns, name string, before map[string]memberPod) {
	GinkgoHelper()
	now := memberPods(ctx, ns, name)
	for pod, was := range before {
		is, ok := now[pod]
		if ok && is.configHash != was.configHash {
			continue // restarted by the quota rollout, with the new config
		}
		Expect(ok).To(BeTrue(), "pod %s is gone", pod)
		Expect(is.uid).To(Equal(was.uid), "pod %s was recreated with its old configuration", pod)
		Expect(is.restarts).To(Equal(was.restarts), "pod %s restarted", pod)
	}
}

func claimSizes(ctx SpecContext, ns string, c *etcdv1.EtcdCluster, n int) (requests, capacities []string) {
	GinkgoHelper()
	for i := range n {
		pvc := &corev1.PersistentVolumeClaim{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.MemberClaimName(i)}, pvc)).To(Succeed())
		r, cp := pvc.Spec.Resources.Requests[corev1.ResourceStorage], pvc.Status.Capacity[corev1.ResourceStorage]
		requests, capacities = append(requests, r.String()), append(capacities, cp.String())
	}
	return requests, capacities
}

func renderedQuota(ctx SpecContext, ns string, c *etcdv1.EtcdCluster) string {
	GinkgoHelper()
	// The options a member pod made now reads: those of the ConfigMap the
	// StatefulSet's template names.
	sts := &appsv1.StatefulSet{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.StatefulSetName()}, sts)).To(Succeed())
	rev, ok := render.RevisionOf(sts.Spec.Template.ObjectMeta, sts.Spec.Template.Spec)
	Expect(ok).To(BeTrue())
	cm := &corev1.ConfigMap{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: rev.OptionsConfigMap}, cm)).To(Succeed())
	for _, line := range strings.Split(cm.Data[render.ConfigKeyOptions], "\n") {
		if v, ok := strings.CutPrefix(line, "quota-backend-bytes: "); ok {
			return v
		}
	}
	return ""
}

var _ = Describe("Volumes", func() {
	It("grows member volumes 1Gi→2Gi without restarting a member, then rolls out the derived quota; refuses growth on a class without expansion", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		oneGi := resource.MustParse("1Gi")
		grow := createCluster(ctx, ns, "grow", 3, func(c *etcdv1.EtcdCluster) { c.Spec.Storage.Size = &oneGi })
		fixed := createCluster(ctx, ns, "fixed", 1, func(c *etcdv1.EtcdCluster) {
			c.Spec.Storage.Size, c.Spec.Storage.StorageClassName = &oneGi, ptr.To(fixedStorageClass)
		})
		waitAvailable(ctx, ns, "grow", 3)
		waitAvailable(ctx, ns, "fixed", 1)
		oldQuota, newQuota := fmt.Sprint(etcdv1.QuotaBackendBytes(nil, &oneGi)), fmt.Sprint(etcdv1.QuotaBackendBytes(nil, ptr.To(resource.MustParse("2Gi"))))
		Expect(renderedQuota(ctx, ns, grow)).To(Equal(oldQuota))

		tlsCfg := clientTLS(ctx, ns, "grow")
		w := startWriter(ctx, etcdClient(podEndpoints(ctx, ns, "grow", "https"), tlsCfg))
		growPods, fixedPods := memberPods(ctx, ns, "grow"), memberPods(ctx, ns, "fixed")
		oldSTS := &appsv1.StatefulSet{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: grow.StatefulSetName()}, oldSTS)).To(Succeed())

		By("asking both clusters for 2Gi volumes")
		for _, name := range []string{"grow", "fixed"} {
			Expect(k8s.Patch(ctx, &etcdv1.EtcdCluster{ObjectMeta: metav1ObjectMeta(ns, name)},
				client.RawPatch(types.MergePatchType, []byte(`{"spec":{"storage":{"size":"2Gi"}}}`)))).To(Succeed())
		}

		By("waiting for every claim to have 2Gi, no member restarted meanwhile")
		Eventually(func(g Gomega) {
			expectNotRestarted(ctx, ns, "grow", growPods)
			expectNotRestarted(ctx, ns, "fixed", fixedPods)
			requests, capacities := claimSizes(ctx, ns, grow, 3)
			g.Expect(requests).To(HaveEach("2Gi"))
			g.Expect(capacities).To(HaveEach("2Gi"))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())

		By("checking the StatefulSet was replaced with a 2Gi claim template")
		Eventually(func(g Gomega) {
			sts := &appsv1.StatefulSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: grow.StatefulSetName()}, sts)).To(Succeed())
			g.Expect(sts.UID).NotTo(Equal(oldSTS.UID))
			size := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
			g.Expect(size.String()).To(Equal("2Gi"))
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())

		By("waiting for the quota derived from 2Gi to reach every member through the rolling restart")
		Eventually(func(g Gomega) {
			c := &etcdv1.EtcdCluster{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "grow"}, c)).To(Succeed())
			g.Expect(c.Status.Storage).NotTo(BeNil())
			g.Expect(c.Status.Storage.Capacity.String()).To(Equal("2Gi"))
			g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionVolumesGrown)).To(BeTrue(), "%+v", c.Status.Conditions)
			g.Expect(renderedQuota(ctx, ns, grow)).To(Equal(newQuota))
			for _, ep := range podEndpoints(ctx, ns, "grow", "https") {
				st, err := etcdClient([]string{ep}, tlsCfg).Status(op(ctx), ep)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(fmt.Sprint(st.DbSizeQuota)).To(Equal(newQuota), "member %s runs with the old quota", ep)
			}
		}).WithContext(ctx).WithTimeout(6 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		waitSettled(ctx, ns, "grow", 3)
		acked, failed := w.finish()
		GinkgoWriter.Printf("writes acknowledged %d, failed %d, largest gap %v\n", len(acked), failed, w.maxGap)
		Expect(acked).NotTo(BeEmpty())
		expectAllWritten(ctx, etcdClient(podEndpoints(ctx, ns, "grow", "https"), tlsCfg), acked)
		expectEqualHashKV(ctx, ns, "grow", tlsCfg)

		By("checking the fixed class refused growth with a condition, the cluster still Available on its 1Gi claim")
		Eventually(func(g Gomega) {
			c := &etcdv1.EtcdCluster{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fixed"}, c)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable)).To(BeTrue())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionVolumesGrown)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonVolumeExpansionUnsupported))
			g.Expect(cond.Message).To(ContainSubstring("StorageClass " + fixedStorageClass + " does not allow volume expansion"))
			g.Expect(cond.Message).To(ContainSubstring("stay at 1Gi, storage.size asks for 2Gi"))
			g.Expect(cond.Message).To(ContainSubstring("nothing is restarted"))
			sts := &appsv1.StatefulSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: fixed.StatefulSetName()}, sts)).To(Succeed())
			size := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
			g.Expect(size.String()).To(Equal("2Gi"), "new members get the asked size")
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		requests, capacities := claimSizes(ctx, ns, fixed, 1)
		Expect(requests).To(Equal([]string{"1Gi"}))
		Expect(capacities).To(Equal([]string{"1Gi"}))
		Expect(renderedQuota(ctx, ns, fixed)).To(Equal(oldQuota), "the quota stays what the 1Gi disk allows")
		Expect(memberPods(ctx, ns, "fixed")).To(Equal(fixedPods), "the fixed cluster's member was not restarted")
		evs := &eventsv1.EventList{}
		Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
		warned := 0
		for _, e := range evs.Items {
			if e.Regarding.Name == "fixed" && e.Reason == etcdv1.ReasonVolumeExpansionUnsupported {
				warned++
				Expect(e.Type).To(Equal(corev1.EventTypeWarning))
			}
		}
		Expect(warned).To(Equal(1), "one Warning event for the refusal")
	}, SpecTimeout(12*time.Minute))
})
