package etcdrestore

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/testenv"
	"quorum.dev/etcd-operator/controllers/render"
)

var _ = Describe("a failed verification", func() {
	It("fails the restore with the verification's own message, read from the API server although the cache lacks the Job's pod", func(ctx SpecContext) {
		x := createS3Restore(ctx)
		cache := &testenv.Lagging{Client: k8s}
		r := newReconciler(cache, events.NewFakeRecorder(10))
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(x)}
		_, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())

		job := &batchv1.Job{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: x.Namespace, Name: render.VerifyJobName(x)}, job)).To(Succeed())
		Expect(testenv.FinishJob(ctx, k8s, job, false, "snapshot ns/db/snap.db: sha256 mismatch")).To(Succeed())
		cache.NoPods = true
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())

		Expect(k8s.Get(ctx, req.NamespacedName, x)).To(Succeed())
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreFailed))
		failed := meta.FindStatusCondition(x.Status.Conditions, etcdv1.RestoreConditionFailed)
		Expect(failed).NotTo(BeNil())
		Expect(failed.Message).To(Equal("snapshot ns/db/snap.db: sha256 mismatch; the cluster was not touched"))
	})
})

var _ = Describe("a verification Job whose pod the API server refuses", func() {
	It("says so in the Verifying phase with the refusal, keeps waiting, and goes back to Verifying once the pod is created", func(ctx SpecContext) {
		x := createS3Restore(ctx)
		r := newReconciler(k8s, events.NewFakeRecorder(10))
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(x)}
		_, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		job := &batchv1.Job{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: x.Namespace, Name: render.VerifyJobName(x)}, job)).To(Succeed())

		By("no pod and no refusal yet: looked at again soon")
		res, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.RequeueAfter).To(Equal(requeueVerifyPod))

		By("the Job controller's FailedCreate event")
		Expect(testenv.RefuseJobPod(ctx, k8s, job, testenv.PodSecurityRefusal(job), time.Now())).To(Succeed())
		res, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.RequeueAfter).To(Equal(requeueRestoreWait), "looked at again, not in a loop")
		Expect(k8s.Get(ctx, req.NamespacedName, x)).To(Succeed())
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreVerifying))
		complete := meta.FindStatusCondition(x.Status.Conditions, etcdv1.RestoreConditionComplete)
		Expect(complete.Reason).To(Equal(etcdv1.ReasonJobPodNotCreated))
		Expect(complete.Message).To(SatisfyAll(ContainSubstring("the Job's pod cannot be created: "+testenv.PodSecurityRefusal(job)),
			ContainSubstring("the restore waits in Verifying"), ContainSubstring("the cluster is not touched")))

		By("the Job controller creates the pod once the cause is fixed")
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-x", Namespace: x.Namespace, Labels: map[string]string{batchv1.JobNameLabel: job.Name}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "verify", Image: "i"}}}}
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, req.NamespacedName, x)).To(Succeed())
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreVerifying))
		Expect(meta.FindStatusCondition(x.Status.Conditions, etcdv1.RestoreConditionComplete).Reason).To(Equal(etcdv1.ReasonVerifying))
	})

	It("fails with the refusal when the Job runs out its deadline without a pod", func(ctx SpecContext) {
		x := createS3Restore(ctx)
		r := newReconciler(k8s, events.NewFakeRecorder(10))
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(x)}
		_, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		job := &batchv1.Job{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: x.Namespace, Name: render.VerifyJobName(x)}, job)).To(Succeed())
		Expect(testenv.RefuseJobPod(ctx, k8s, job, testenv.QuotaRefusal(job), time.Now())).To(Succeed())
		now := metav1.Now()
		job.Status = batchv1.JobStatus{StartTime: &now, Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded", LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded", LastTransitionTime: now}}}
		Expect(k8s.Status().Update(ctx, job)).To(Succeed())
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, req.NamespacedName, x)).To(Succeed())
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreFailed))
		Expect(meta.FindStatusCondition(x.Status.Conditions, etcdv1.RestoreConditionFailed).Message).To(SatisfyAll(
			ContainSubstring("DeadlineExceeded"), ContainSubstring("the Job's pod cannot be created: "+testenv.QuotaRefusal(job))))
	})
})
