package etcdcluster

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/testenv"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/contract"
)

var _ = Describe("the preflight check of a new template", func() {
	It("starts once per template, reads a refusal from the pod (image pull, then etcd's message), and is cleaned up", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "pre", Namespace: ns}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(10), Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}}

		res, err := r.preflightResult(ctx, c, "abc")
		Expect(err).NotTo(HaveOccurred())
		Expect(res.State).To(Equal(preflightNone))

		Expect(r.startPreflight(ctx, c, "abc", c.MemberName(2), "node-a")).To(Succeed())
		Expect(r.startPreflight(ctx, c, "abc", c.MemberName(2), "node-a")).To(Succeed(), "a second start is a no-op")
		job := &batchv1.Job{}
		Expect(get(ctx, ns, c.PreflightJobName("abc"), job)()).To(Succeed())
		Expect(metav1.IsControlledBy(job, c)).To(BeTrue())
		res, err = r.preflightResult(ctx, c, "abc")
		Expect(err).NotTo(HaveOccurred())
		Expect(res.State).To(Equal(preflightRunning))

		By("a pod whose image does not pull refuses the template while it lasts")
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-x1", Namespace: ns, Labels: map[string]string{"batch.kubernetes.io/job-name": job.Name}},
			Spec:       job.Spec.Template.Spec,
		}
		pod.Spec.NodeName = "node-a"
		pod.Spec.Affinity = nil
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		pod.Status = corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "preflight", Image: "quorum.dev/etcd-server:3.7.99",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}},
		}}}
		Expect(k8s.Status().Update(ctx, pod)).To(Succeed())
		res, err = r.preflightResult(ctx, c, "abc")
		Expect(err).NotTo(HaveOccurred())
		Expect(res.State).To(Equal(preflightRefused))
		Expect(res.Message).To(ContainSubstring("image quorum.dev/etcd-server:3.7.99 cannot be pulled"))
		Expect(res.Message).To(ContainSubstring("on node node-a"))

		By("a failed Job refuses it with the server's own message")
		refusal := `etcd options /etc/quorum/config/etcd.yaml: error unmarshaling JSON: json: cannot unmarshal string into Go struct field configYAML.snapshot-count of type uint64`
		now := metav1.NewTime(time.Now())
		pod.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "preflight", Image: "quorum.dev/etcd-server:3.7.3",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: contract.PreflightRefusedPrefix + refusal}},
		}}}
		Expect(k8s.Status().Update(ctx, pod)).To(Succeed())
		job.Status = batchv1.JobStatus{StartTime: &now, Failed: 1, Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
		}}
		Expect(k8s.Status().Update(ctx, job)).To(Succeed())
		res, err = r.preflightResult(ctx, c, "abc")
		Expect(err).NotTo(HaveOccurred())
		Expect(res).To(Equal(preflightResult{State: preflightRefused, Message: refusal}))

		By("the check of another template is left, this one deleted")
		Expect(r.deleteOldPreflights(ctx, c, "abc", true)).To(Succeed())
		Expect(get(ctx, ns, job.Name, &batchv1.Job{})()).To(Succeed())
		Expect(r.deleteOldPreflights(ctx, c, "def", true)).To(Succeed())
		Eventually(func() bool {
			j := &batchv1.Job{}
			err := k8s.Get(ctx, client.ObjectKeyFromObject(job), j)
			return apierrors.IsNotFound(err) || !j.DeletionTimestamp.IsZero()
		}).WithContext(ctx).Should(BeTrue())
	})
})

var _ = Describe("a refused preflight check", func() {
	It("reads the server's message from the API server, although the cache has seen the Job fail but not its pod", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "pre", Namespace: ns}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		cache := &testenv.Lagging{Client: k8s, NoPods: true}
		r := &Reconciler{Client: cache, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(10), Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}}
		Expect(r.startPreflight(ctx, c, "abc", c.MemberName(0), "node-a")).To(Succeed())
		job := &batchv1.Job{}
		Expect(get(ctx, ns, c.PreflightJobName("abc"), job)()).To(Succeed())
		Expect(testenv.FinishJob(ctx, k8s, job, false, contract.PreflightRefusedPrefix+"unknown flag --no-such-option")).To(Succeed())

		res, err := r.preflightResult(ctx, c, "abc")
		Expect(err).NotTo(HaveOccurred())
		Expect(res).To(Equal(preflightResult{State: preflightRefused, Message: "unknown flag --no-such-option"}))
	})
})

var _ = Describe("a preflight check whose pod the API server refuses", func() {
	It("refuses the template with the refusal while it lasts, and runs again once the pod is created", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "pre", Namespace: ns}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(10), Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}}
		Expect(r.startPreflight(ctx, c, "abc", c.MemberName(0), "node-a")).To(Succeed())
		job := &batchv1.Job{}
		Expect(get(ctx, ns, c.PreflightJobName("abc"), job)()).To(Succeed())

		Expect(testenv.RefuseJobPod(ctx, k8s, job, testenv.PodSecurityRefusal(job), time.Now().Add(-time.Second))).To(Succeed())
		res, err := r.preflightResult(ctx, c, "abc")
		Expect(err).NotTo(HaveOccurred())
		Expect(res.State).To(Equal(preflightRefused))
		Expect(res.Message).To(SatisfyAll(HavePrefix("the Job's pod cannot be created: "+testenv.PodSecurityRefusal(job)),
			ContainSubstring("the Job controller retries")))

		By("a pod created since: the check runs")
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-x", Namespace: ns, Labels: map[string]string{batchv1.JobNameLabel: job.Name}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "preflight", Image: "i"}}}}
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		res, err = r.preflightResult(ctx, c, "abc")
		Expect(err).NotTo(HaveOccurred())
		Expect(res.State).To(Equal(preflightRunning))
	})
})
