package etcdbackup

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/testenv"
	"quorum.dev/etcd-operator/controllers/render"
)

// availableCluster creates EtcdCluster db in ns with Available=True (no
// EtcdCluster reconciler runs in this suite to take it back).
func availableCluster(ctx context.Context, ns string) {
	GinkgoHelper()
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}}
	Expect(k8s.Create(ctx, c)).To(Succeed())
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: etcdv1.ConditionAvailable, Status: metav1.ConditionTrue, Reason: etcdv1.ReasonQuorumHealthy, Message: "ok"})
	Expect(k8s.Status().Update(ctx, c)).To(Succeed())
}

func secret(ctx context.Context, ns, name string, data map[string]string) {
	GinkgoHelper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
	Expect(k8s.Create(ctx, s)).To(Succeed())
}

var creds = map[string]string{s3AccessKeyID: "id", s3SecretAccessKey: "secret"}

// createS3Backup creates EtcdBackup b to S3 in a new namespace, with its
// cluster available and its credentials Secret.
func createS3Backup(ctx context.Context) *etcdv1.EtcdBackup {
	GinkgoHelper()
	ns, err := testenv.NewNamespace(ctx, k8s)
	Expect(err).NotTo(HaveOccurred())
	availableCluster(ctx, ns)
	secret(ctx, ns, "creds", creds)
	b := s3Backup(ns)
	Expect(k8s.Create(ctx, b)).To(Succeed())
	return b
}

func s3Backup(ns string) *etcdv1.EtcdBackup {
	return &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: ns}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "db",
		Destination: etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", CredentialsSecretName: "creds"}}}}
}

var _ = Describe("a failed backup", func() {
	It("never gets a Job again, although a later pass reads it from a cache that has not seen it fail", func(ctx SpecContext) {
		b := createS3Backup(ctx)
		ns := b.Namespace

		cache := &testenv.Lagging{Client: k8s}
		rec := events.NewFakeRecorder(20)
		offset := time.Duration(0)
		r := &Reconciler{Client: cache, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: rec,
			Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}, Clock: func() time.Time { return time.Now().Add(offset) }}
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(b)}
		jobKey := client.ObjectKey{Namespace: ns, Name: render.BackupJobName(b)}

		_, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, req.NamespacedName, b)).To(Succeed())
		Expect(b.Status.Phase).To(Equal(etcdv1.BackupRunning))
		running := b.DeepCopy()
		job := &batchv1.Job{}
		Expect(k8s.Get(ctx, jobKey, job)).To(Succeed())

		By("its pod cannot start (the kubelet's report, played here), past the grace")
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-x", Namespace: ns, Labels: map[string]string{"batch.kubernetes.io/job-name": job.Name}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "backup", Image: "i"}}}}
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		pod.Status.Phase = corev1.PodPending
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "backup", Image: "i", State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: `secret "creds" not found`}}}}
		Expect(k8s.Status().Update(ctx, pod)).To(Succeed())
		offset = time.Minute
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, req.NamespacedName, b)).To(Succeed())
		Expect(b.Status.Phase).To(Equal(etcdv1.BackupFailed))
		By("the next pass, woken by the Failed status, deletes the Job")
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(apierrors.IsNotFound(k8s.Get(ctx, jobKey, &batchv1.Job{}))).To(BeTrue(), "the stuck Job is deleted")

		By("passes that read the backup as it was while running, and its Job gone")
		cache.Stale, cache.NoJobs = running, true
		for range 3 {
			_, err = r.Reconcile(ctx, req)
			Expect(err).NotTo(HaveOccurred())
		}
		cache.Stale, cache.NoJobs = nil, false
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())

		Consistently(func(g Gomega) {
			g.Expect(apierrors.IsNotFound(k8s.Get(ctx, jobKey, &batchv1.Job{}))).To(BeTrue(), "no second Job")
			g.Expect(k8s.Get(ctx, req.NamespacedName, b)).To(Succeed())
			g.Expect(b.Status.Phase).To(Equal(etcdv1.BackupFailed))
			failed := meta.FindStatusCondition(b.Status.Conditions, etcdv1.BackupConditionFailed)
			g.Expect(failed).NotTo(BeNil())
			g.Expect(failed.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(failed.Reason).To(Equal(etcdv1.ReasonBackupPodFailing))
			g.Expect(meta.FindStatusCondition(b.Status.Conditions, etcdv1.BackupConditionComplete).Reason).To(Equal(etcdv1.ReasonBackupPodFailing))
		}, time.Second, 100*time.Millisecond).Should(Succeed())
		got := testenv.Drain(rec)
		Expect(got).To(HaveLen(2), "%q", got)
		Expect(got[0]).To(HavePrefix(corev1.EventTypeNormal + " BackupStarted"))
		Expect(got[1]).To(SatisfyAll(HavePrefix(corev1.EventTypeWarning+" BackupFailed"), ContainSubstring(`secret "creds" not found`)))
	})

	It("fails, and is not run again, when its Job is deleted before it reported", func(ctx SpecContext) {
		b := createS3Backup(ctx)
		ns := b.Namespace
		rec := events.NewFakeRecorder(20)
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: rec, Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}}
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(b)}
		_, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		jobKey := client.ObjectKey{Namespace: ns, Name: render.BackupJobName(b)}
		job := &batchv1.Job{}
		Expect(k8s.Get(ctx, jobKey, job)).To(Succeed())
		Expect(k8s.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())

		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(apierrors.IsNotFound(k8s.Get(ctx, jobKey, &batchv1.Job{}))).To(BeTrue(), "no second Job")
		Expect(k8s.Get(ctx, req.NamespacedName, b)).To(Succeed())
		Expect(b.Status.Phase).To(Equal(etcdv1.BackupFailed))
		Expect(meta.FindStatusCondition(b.Status.Conditions, etcdv1.BackupConditionFailed).Message).To(ContainSubstring("was deleted before it reported"))
	})
})

var _ = Describe("a backup whose Secret is missing", func() {
	key := func(name, k string) *corev1.SecretKeySelector {
		return &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: k}
	}
	DescribeTable("fails before its Job is created, naming the Secret and key",
		func(ctx SpecContext, secrets map[string]map[string]string, encryptionKey *corev1.SecretKeySelector, want string) {
			ns, err := testenv.NewNamespace(ctx, k8s)
			Expect(err).NotTo(HaveOccurred())
			availableCluster(ctx, ns)
			for name, data := range secrets {
				secret(ctx, ns, name, data)
			}
			b := s3Backup(ns)
			b.Spec.EncryptionKey = encryptionKey
			Expect(k8s.Create(ctx, b)).To(Succeed())
			rec := events.NewFakeRecorder(20)
			r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: rec, Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}}
			req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(b)}
			_, err = r.Reconcile(ctx, req)
			Expect(err).NotTo(HaveOccurred())

			Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: render.BackupJobName(b)}, &batchv1.Job{}))).To(BeTrue(), "no Job")
			Expect(k8s.Get(ctx, req.NamespacedName, b)).To(Succeed())
			Expect(b.Status.Phase).To(Equal(etcdv1.BackupFailed))
			failed := meta.FindStatusCondition(b.Status.Conditions, etcdv1.BackupConditionFailed)
			Expect(failed).NotTo(BeNil())
			Expect(failed.Reason).To(Equal(etcdv1.ReasonSecretMissing))
			Expect(failed.Message).To(SatisfyAll(ContainSubstring(want), ContainSubstring("failed before its Job was created")))
			got := testenv.Drain(rec)
			Expect(got).To(HaveLen(1), "%q", got)
			Expect(got[0]).To(SatisfyAll(HavePrefix(corev1.EventTypeWarning+" BackupFailed"), ContainSubstring(want)))
		},
		Entry("no credentials Secret", nil, nil, "S3 credentials Secret creds (key AWS_ACCESS_KEY_ID) not found in namespace"),
		Entry("credentials without the secret key", map[string]map[string]string{"creds": {s3AccessKeyID: "id"}}, nil,
			"S3 credentials Secret creds has no key AWS_SECRET_ACCESS_KEY"),
		Entry("no encryption key Secret", map[string]map[string]string{"creds": creds}, key("nokey", "key"),
			"encryption key Secret nokey (key key) not found in namespace"),
		Entry("an encryption key Secret without the key", map[string]map[string]string{"creds": creds, "enc": {"other": "x"}}, key("enc", "key"),
			"encryption key Secret enc has no key key"),
	)

	It("starts the Job when every Secret and key is there", func(ctx SpecContext) {
		ns, err := testenv.NewNamespace(ctx, k8s)
		Expect(err).NotTo(HaveOccurred())
		availableCluster(ctx, ns)
		secret(ctx, ns, "creds", creds)
		secret(ctx, ns, "enc", map[string]string{"key": "0123456789abcdef0123456789abcdef"})
		b := s3Backup(ns)
		b.Spec.EncryptionKey = key("enc", "key")
		Expect(k8s.Create(ctx, b)).To(Succeed())
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(20), Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}}
		_, err = r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(b)})
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: render.BackupJobName(b)}, &batchv1.Job{})).To(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(b), b)).To(Succeed())
		Expect(b.Status.Phase).To(Equal(etcdv1.BackupRunning))
	})
})

var _ = Describe("a backup whose Job succeeded", func() {
	It("succeeds with the Job's report, read from the API server although the cache lacks the Job's pod", func(ctx SpecContext) {
		b := createS3Backup(ctx)
		ns := b.Namespace
		cache := &testenv.Lagging{Client: k8s}
		r := &Reconciler{Client: cache, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(20), Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}}
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(b)}
		_, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())

		job := &batchv1.Job{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: render.BackupJobName(b)}, job)).To(Succeed())
		report := `{"sha256":"` + sha + `","size":4096,"storedSize":1024,"etcdRevision":42,"location":"s3://bkt/k.db"}`
		Expect(testenv.FinishJob(ctx, k8s, job, true, "backup log line\n"+report)).To(Succeed())
		cache.NoPods = true
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())

		Expect(k8s.Get(ctx, req.NamespacedName, b)).To(Succeed())
		Expect(b.Status.Phase).To(Equal(etcdv1.BackupSucceeded), "%+v", b.Status.Conditions)
		Expect(b.Status.SHA256).To(Equal(sha))
	})
})

const sha = "abababababababababababababababababababababababababababababababab"

var _ = Describe("a backup whose Job's pod the API server refuses", func() {
	It("says so at once, with the refusal, and fails once the grace is over", func(ctx SpecContext) {
		b := createS3Backup(ctx)
		rec := events.NewFakeRecorder(20)
		offset := time.Duration(0)
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: rec,
			Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}, Clock: func() time.Time { return time.Now().Add(offset) }}
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(b)}
		_, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		job := &batchv1.Job{}
		jobKey := client.ObjectKey{Namespace: b.Namespace, Name: render.BackupJobName(b)}
		Expect(k8s.Get(ctx, jobKey, job)).To(Succeed())

		By("the Job controller's FailedCreate event, within the grace")
		Expect(testenv.RefuseJobPod(ctx, k8s, job, testenv.QuotaRefusal(job), time.Now())).To(Succeed())
		res, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.RequeueAfter).To(SatisfyAll(BeNumerically(">", 0), BeNumerically("<=", requeueRunning)), "looked at again, not in a loop")
		Expect(k8s.Get(ctx, req.NamespacedName, b)).To(Succeed())
		Expect(b.Status.Phase).To(Equal(etcdv1.BackupRunning))
		complete := meta.FindStatusCondition(b.Status.Conditions, etcdv1.BackupConditionComplete)
		Expect(complete.Reason).To(Equal(etcdv1.ReasonJobPodNotCreated))
		Expect(complete.Message).To(SatisfyAll(ContainSubstring("the Job's pod cannot be created: "+testenv.QuotaRefusal(job)),
			ContainSubstring("the backup fails if the pod still cannot be created")))

		By("past the grace: Failed with the refusal, and the Job deleted")
		offset = podGrace
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, req.NamespacedName, b)).To(Succeed())
		Expect(b.Status.Phase).To(Equal(etcdv1.BackupFailed))
		failed := meta.FindStatusCondition(b.Status.Conditions, etcdv1.BackupConditionFailed)
		Expect(failed.Reason).To(Equal(etcdv1.ReasonJobPodNotCreated))
		Expect(failed.Message).To(SatisfyAll(ContainSubstring("the Job's pod cannot be created: "+testenv.QuotaRefusal(job)),
			ContainSubstring("create a new EtcdBackup")))
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(apierrors.IsNotFound(k8s.Get(ctx, jobKey, &batchv1.Job{}))).To(BeTrue(), "the refused Job is deleted")
		got := testenv.Drain(rec)
		Expect(got).To(HaveLen(2), "%q", got)
		Expect(got[1]).To(SatisfyAll(HavePrefix(corev1.EventTypeWarning+" BackupFailed"), ContainSubstring("exceeded quota: q")))
	})

	It("keeps running once the Job controller has created the pod after a refusal", func(ctx SpecContext) {
		b := createS3Backup(ctx)
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(20),
			Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}, Clock: func() time.Time { return time.Now().Add(time.Hour) }}
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(b)}
		_, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		job := &batchv1.Job{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: render.BackupJobName(b)}, job)).To(Succeed())
		Expect(testenv.RefuseJobPod(ctx, k8s, job, testenv.PodSecurityRefusal(job), time.Now().Add(-time.Minute))).To(Succeed())
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-x", Namespace: b.Namespace, Labels: map[string]string{batchv1.JobNameLabel: job.Name}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "backup", Image: "i"}}}}
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, req.NamespacedName, b)).To(Succeed())
		Expect(b.Status.Phase).To(Equal(etcdv1.BackupRunning))
		Expect(meta.FindStatusCondition(b.Status.Conditions, etcdv1.BackupConditionComplete).Reason).To(Equal(etcdv1.ReasonJobRunning))
	})
})
