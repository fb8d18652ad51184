package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// memberPod creates a member pod of c (no StatefulSet controller runs in
// envtest) and gives it status as the kubelet would.
func memberPod(ctx SpecContext, c *etcdv1.EtcdCluster, ordinal int, status corev1.PodStatus) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: c.MemberName(ordinal), Namespace: c.Namespace, Labels: c.SelectorLabels()},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: render.ContainerName, Image: "quorum.dev/etcd-server:" + c.Spec.Version}}}}
	ExpectWithOffset(1, k8s.Create(ctx, pod)).To(Succeed())
	pod.Status = status
	ExpectWithOffset(1, k8s.Status().Update(ctx, pod)).To(Succeed())
}

func memberClaim(ctx SpecContext, c *etcdv1.EtcdCluster, ordinal int) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: c.MemberClaimName(ordinal), Namespace: c.Namespace, Labels: c.SelectorLabels()},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	ExpectWithOffset(1, k8s.Create(ctx, pvc)).To(Succeed())
	return pvc
}

// claimGone: deleted, or being deleted (the claim protection finalizer may
// hold it while no controller runs).
func claimGone(ctx SpecContext, ns, name string) func(Gomega) {
	return func(g Gomega) {
		pvc := &corev1.PersistentVolumeClaim{}
		err := get(ctx, ns, name, pvc)()
		g.Expect(apierrors.IsNotFound(err) || (err == nil && pvc.DeletionTimestamp != nil)).To(BeTrue(), "claim %s: %v", name, err)
	}
}

var _ = Describe("EtcdCluster status", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	It("names the Kubernetes cause of a member that cannot start in Degraded and the REASON column", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "crashy", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		msg := "bad configuration: etcd options /etc/quorum/etcd.yaml: json: cannot unmarshal string into Go struct field configYAML.Config.snapshot-count of type uint64"
		memberPod(ctx, c, 0, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: render.ContainerName, Image: "img", RestartCount: 2,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: msg}},
		}}})
		mutate(ctx, ns, "crashy", poke)
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "crashy", c)()).To(Succeed())
			d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(d.Reason).To(Equal(etcdv1.ReasonMemberPodsFailing))
			g.Expect(d.Message).To(ContainSubstring("crashy-0: container etcd exited with code 1 (2 restarts): " + msg))
			g.Expect(c.Status.Reason).To(Equal(etcdv1.ReasonMemberPodsFailing))
			a := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionAvailable)
			g.Expect(a.Reason).To(Equal(etcdv1.ReasonBootstrapping))
			g.Expect(a.Message).To(ContainSubstring("snapshot-count"))
		}, timeout, poll).Should(Succeed())
		evs := &eventsv1.EventList{}
		Eventually(func(g Gomega) {
			g.Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
			n := 0
			for _, e := range evs.Items {
				if e.Reason == etcdv1.ReasonMemberPodsFailing && e.Type == corev1.EventTypeWarning {
					n++
				}
			}
			g.Expect(n).To(Equal(1), "one Warning event for the failing pods")
		}, timeout, poll).Should(Succeed())
	})

	It("names a pending claim whose StorageClass does not exist in Degraded", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "nosc", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1),
			Storage: etcdv1.StorageSpec{StorageClassName: ptr.To("does-not-exist")}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: c.MemberClaimName(0), Namespace: ns, Labels: c.SelectorLabels()},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: ptr.To("does-not-exist"),
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
		Expect(k8s.Create(ctx, pvc)).To(Succeed())
		pvc.Status.Phase = corev1.ClaimPending
		Expect(k8s.Status().Update(ctx, pvc)).To(Succeed())
		memberPod(ctx, c, 0, corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled,
			Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "pod has unbound immediate PersistentVolumeClaims. not found"}}})
		mutate(ctx, ns, "nosc", poke)
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "nosc", c)()).To(Succeed())
			d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(d.Reason).To(Equal(etcdv1.ReasonMemberPodsFailing))
			g.Expect(d.Message).To(ContainSubstring("nosc-0: volume claim data-nosc-0 is Pending: StorageClass does-not-exist not found; " +
				"storage.storageClassName cannot be changed: create the StorageClass, or delete the cluster and recreate it with an existing class"))
		}, timeout, poll).Should(Succeed())
	})

	It("deletes the StatefulSet and waits for its pods before it deletes the claims of a cluster that never formed", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "pend", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "pend", c)()).To(Succeed())
			g.Expect(c.Finalizers).To(ContainElement("etcd.quorum.dev/unformed-claims"))
			g.Expect(get(ctx, ns, "pend", &appsv1.StatefulSet{})()).To(Succeed())
		}, timeout, poll).Should(Succeed())
		memberClaim(ctx, c, 0)
		// A member pod still waiting for its claim: while it exists, the
		// StatefulSet controller would make a deleted claim again.
		memberPod(ctx, c, 0, corev1.PodStatus{Phase: corev1.PodPending})

		Expect(k8s.Delete(ctx, c)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(get(ctx, ns, "pend", &appsv1.StatefulSet{})()) }, timeout, poll).Should(BeTrue(),
			"the StatefulSet goes first")
		Consistently(func(g Gomega) {
			pvc := &corev1.PersistentVolumeClaim{}
			g.Expect(get(ctx, ns, "data-pend-0", pvc)()).To(Succeed())
			g.Expect(pvc.DeletionTimestamp).To(BeNil(), "no claim is deleted while a member pod exists")
			g.Expect(get(ctx, ns, "pend", &etcdv1.EtcdCluster{})()).To(Succeed(), "the finalizer stays")
		}, 2*time.Second, poll).Should(Succeed())

		By("the pod going (garbage collection, which envtest lacks)")
		Expect(k8s.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pend-0", Namespace: ns}})).To(Succeed())
		Eventually(claimGone(ctx, ns, "data-pend-0"), timeout, poll).Should(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(get(ctx, ns, "pend", &etcdv1.EtcdCluster{})()) }, timeout, poll).Should(BeTrue())
	})

	It("deletes the claims and credentials Secrets of a cluster that never formed, and keeps those of one that formed", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		// "again" is recreated on the kept claim and Secrets of an earlier
		// cluster of that name: not formed yet, but its claim holds data.
		earlier := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "again", Namespace: ns}}
		memberClaim(ctx, earlier, 0)
		for _, name := range []string{earlier.RootPasswordSecretName(), earlier.RootPasswordRecordSecretName()} {
			Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: earlier.Labels()},
				Data: map[string][]byte{"password": []byte("from-the-earlier-cluster")}})).To(Succeed())
		}
		time.Sleep(1100 * time.Millisecond) // creation times have a one-second resolution
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: ns}, Data: map[string][]byte{"password": []byte("hunter2hunter2")}})).To(Succeed())
		for _, name := range []string{"never", "formed", "byo", "again"} {
			c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}}
			if name == "byo" {
				c.Spec.Auth.RootPasswordSecretName = "mine"
			}
			Expect(k8s.Create(ctx, c)).To(Succeed())
			Eventually(func(g Gomega) {
				g.Expect(get(ctx, ns, name, c)()).To(Succeed())
				g.Expect(c.Finalizers).To(ContainElement("etcd.quorum.dev/unformed-claims"), "a new cluster carries the finalizer")
				g.Expect(get(ctx, ns, c.RootPasswordSecretName(), &corev1.Secret{})()).To(Succeed())
			}, timeout, poll).Should(Succeed())
			if name == "again" {
				continue
			}
			memberClaim(ctx, c, 0)
			// The record, as the auth step writes it (no etcd runs here).
			Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: c.RootPasswordRecordSecretName(), Namespace: ns, Labels: c.Labels()},
				Data: map[string][]byte{"password": []byte("applied")}})).To(Succeed())
		}

		By("forming one of them: the finalizer goes")
		cm := &corev1.ConfigMap{}
		Expect(get(ctx, ns, "formed-config", cm)()).To(Succeed())
		cm.Data[render.ConfigKeyInitialState] = render.StateExisting
		Expect(k8s.Update(ctx, cm)).To(Succeed())
		mutate(ctx, ns, "formed", poke)
		Eventually(func(g Gomega) {
			c := &etcdv1.EtcdCluster{}
			g.Expect(get(ctx, ns, "formed", c)()).To(Succeed())
			g.Expect(controllerutil.ContainsFinalizer(c, "etcd.quorum.dev/unformed-claims")).To(BeFalse())
		}, timeout, poll).Should(Succeed())

		By("deleting them")
		for _, name := range []string{"never", "formed", "byo", "again"} {
			Expect(k8s.Delete(ctx, &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})).To(Succeed())
			Eventually(func() bool { return apierrors.IsNotFound(get(ctx, ns, name, &etcdv1.EtcdCluster{})()) }, timeout, poll).Should(BeTrue())
		}
		Eventually(claimGone(ctx, ns, "data-never-0"), timeout, poll).Should(Succeed())
		Eventually(claimGone(ctx, ns, "data-byo-0"), timeout, poll).Should(Succeed())
		for _, name := range []string{"never-root-password", "never-root-password-applied", "byo-root-password-applied"} {
			Eventually(func() bool { return apierrors.IsNotFound(get(ctx, ns, name, &corev1.Secret{})()) }, timeout, poll).Should(BeTrue(), "secret %s", name)
		}
		kept := &corev1.PersistentVolumeClaim{}
		Consistently(func(g Gomega) {
			g.Expect(get(ctx, ns, "data-formed-0", kept)()).To(Succeed())
			g.Expect(kept.DeletionTimestamp).To(BeNil())
			for _, name := range []string{"formed-root-password", "formed-root-password-applied"} {
				g.Expect(get(ctx, ns, name, &corev1.Secret{})()).To(Succeed(), "a formed cluster's Secrets live as long as its kept claims")
			}
			g.Expect(get(ctx, ns, "mine", &corev1.Secret{})()).To(Succeed(), "a Secret the user names is never deleted")
			again := &corev1.PersistentVolumeClaim{}
			g.Expect(get(ctx, ns, "data-again-0", again)()).To(Succeed())
			g.Expect(again.DeletionTimestamp).To(BeNil(), "a claim older than the cluster holds an earlier cluster's data")
			for _, name := range []string{"again-root-password", "again-root-password-applied"} {
				g.Expect(get(ctx, ns, name, &corev1.Secret{})()).To(Succeed(), "the earlier cluster's password Secrets stay with its data")
			}
		}, 2*time.Second, poll).Should(Succeed(), "a formed cluster's claims are kept")
		Eventually(func(g Gomega) {
			evs := &eventsv1.EventList{}
			g.Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
			g.Expect(evs.Items).To(ContainElement(And(HaveField("Reason", "ClaimsDeleted"), HaveField("Regarding.Name", "never"),
				HaveField("Note", And(ContainSubstring("data-never-0"), ContainSubstring("deleted secrets never-root-password, never-root-password-applied"))))))
		}, timeout, poll).Should(Succeed())
	})
})
