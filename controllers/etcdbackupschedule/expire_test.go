package etcdbackupschedule

import (
	"context"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/testenv"
	"quorum.dev/etcd-operator/controllers/render"
)

var _ = Describe("a failed prune Job", func() {
	It("is reported with the prune's own message, read from the API server although the cache lacks the Job's pod", func(ctx SpecContext) {
		ns, err := testenv.NewNamespace(ctx, k8s)
		Expect(err).NotTo(HaveOccurred())
		b := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: ns}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "db",
			Destination: etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "snaps"}}}}
		Expect(k8s.Create(ctx, b)).To(Succeed())
		cache := &testenv.Lagging{Client: k8s}
		r := &Reconciler{Client: cache, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(10)}
		p := &schedulePass{schedule: &etcdv1.EtcdBackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: ns}}, now: time.Now()}

		done, failed, err := r.pruneJob(ctx, p, b)
		Expect(err).NotTo(HaveOccurred())
		Expect(done).To(BeFalse())
		Expect(failed).NotTo(HaveOccurred())
		job := &batchv1.Job{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: render.PruneJobName(b)}, job)).To(Succeed())
		Expect(testenv.FinishJob(ctx, k8s, job, false, "prune failed: removing backup x: permission denied")).To(Succeed())
		cache.NoPods = true

		done, failed, err = r.pruneJob(ctx, p, b)
		Expect(err).NotTo(HaveOccurred())
		Expect(done).To(BeFalse())
		Expect(failed).To(MatchError("prune job " + job.Name + " failed: prune failed: removing backup x: permission denied"))
	})
})

var _ = Describe("a prune Job whose pod the API server refuses", func() {
	It("is reported with the refusal, and looked at again soon while it has no pod", func(ctx SpecContext) {
		ns, err := testenv.NewNamespace(ctx, k8s)
		Expect(err).NotTo(HaveOccurred())
		b := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: ns}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "db",
			Destination: etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "snaps"}}}}
		Expect(k8s.Create(ctx, b)).To(Succeed())
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(10)}
		p := &schedulePass{schedule: &etcdv1.EtcdBackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: ns}}, now: time.Now()}
		_, _, err = r.pruneJob(ctx, p, b)
		Expect(err).NotTo(HaveOccurred())
		job := &batchv1.Job{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: render.PruneJobName(b)}, job)).To(Succeed())

		By("no pod, no refusal yet")
		done, failed, err := r.pruneJob(ctx, p, b)
		Expect(err).NotTo(HaveOccurred())
		Expect(done).To(BeFalse())
		Expect(failed).NotTo(HaveOccurred())
		Expect(p.requeueAfter()).To(Equal(requeuePrunePod))

		By("the Job controller's FailedCreate event")
		Expect(testenv.RefuseJobPod(ctx, k8s, job, testenv.QuotaRefusal(job), time.Now())).To(Succeed())
		p = &schedulePass{schedule: p.schedule, now: time.Now()}
		done, failed, err = r.pruneJob(ctx, p, b)
		Expect(err).NotTo(HaveOccurred())
		Expect(done).To(BeFalse())
		Expect(failed).To(MatchError(ContainSubstring("prune job " + job.Name + ": the Job's pod cannot be created: " + testenv.QuotaRefusal(job))))
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(job), &batchv1.Job{})).To(Succeed(), "the Job is kept for the Job controller's retries")
	})
})

// noStores fails any in-process access to a bucket: a web identity's
// credentials exist only in pods running as its service account.
type noStores struct{}

func (noStores) Open(context.Context, string, *etcdv1.S3Location) (ObjectStore, error) {
	return nil, errors.New("the operator opened a bucket it has no credentials for")
}

var _ = Describe("retention of a bucket reached by web identity", func() {
	It("removes the expired backup's objects with a prune Job running as the service account, once it exists, then the EtcdBackup", func(ctx SpecContext) {
		ns, err := testenv.NewNamespace(ctx, k8s)
		Expect(err).NotTo(HaveOccurred())
		loc := &etcdv1.S3Location{Endpoint: "s3.eu-west-1.amazonaws.com", Bucket: "bkt", Region: "eu-west-1",
			WebIdentity: &etcdv1.S3WebIdentity{ServiceAccountName: "etcd-backup", RoleARN: "arn:aws:iam::123456789012:role/etcd-backup"}}
		var backups []etcdv1.EtcdBackup
		for i, name := range []string{"older", "newer"} {
			b := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "db",
				Destination: etcdv1.BackupLocation{S3: loc}}}
			Expect(k8s.Create(ctx, b)).To(Succeed())
			b.Status.Phase, b.Status.Key = etcdv1.BackupSucceeded, "prod/db/"+name+".db.zst"
			b.Status.CompletionTime = &metav1.Time{Time: time.Now().Add(time.Duration(i-2) * time.Hour).Truncate(time.Second)}
			Expect(k8s.Status().Update(ctx, b)).To(Succeed())
			backups = append(backups, *b)
		}
		rec := events.NewFakeRecorder(10)
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: rec, Stores: noStores{}}
		p := &schedulePass{schedule: &etcdv1.EtcdBackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: ns},
			Spec: etcdv1.EtcdBackupScheduleSpec{Retention: &etcdv1.BackupRetention{KeepLast: ptr.To[int32](1)}}},
			now: time.Now(), backups: backups}

		By("without its ServiceAccount: a retention failure naming it, and no Job (its pod could not be made)")
		Expect(r.expireBackups(ctx, p)).To(Succeed())
		Expect(p.retention).To(MatchError(SatisfyAll(
			ContainSubstring("expiring older: ServiceAccount etcd-backup (s3.webIdentity.serviceAccountName) not found in namespace "+ns),
			ContainSubstring("no prune Job is created until it exists (retried every 1m0s)"))))
		jobKey := client.ObjectKey{Namespace: ns, Name: render.PruneJobName(&backups[0])}
		Expect(apierrors.IsNotFound(k8s.Get(ctx, jobKey, &batchv1.Job{}))).To(BeTrue(), "no prune Job")

		By("with it")
		Expect(k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "etcd-backup", Namespace: ns}})).To(Succeed())
		Expect(r.expireBackups(ctx, p)).To(Succeed())
		Expect(p.retention).NotTo(HaveOccurred())
		job := &batchv1.Job{}
		Expect(k8s.Get(ctx, jobKey, job)).To(Succeed())
		pod := job.Spec.Template.Spec
		Expect(pod.ServiceAccountName).To(Equal("etcd-backup"))
		Expect(pod.Containers[0].Args).To(ContainElements("prune", "--s3-endpoint=s3.eu-west-1.amazonaws.com", "--bucket=bkt",
			"--s3-credentials=web-identity", "--key=prod/db/older.db.zst"))
		Expect(pod.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "AWS_ROLE_ARN", Value: "arn:aws:iam::123456789012:role/etcd-backup"}))
		Expect(<-rec.Events).To(ContainSubstring("job " + job.Name + " removes its files from bucket bkt"))
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(&backups[0]), &etcdv1.EtcdBackup{})).To(Succeed(), "deleted before its objects")

		Expect(testenv.FinishJob(ctx, k8s, job, true, "")).To(Succeed())
		Expect(r.expireBackups(ctx, p)).To(Succeed())
		Expect(p.retention).NotTo(HaveOccurred())
		Eventually(func() bool {
			b := &etcdv1.EtcdBackup{}
			err := k8s.Get(ctx, client.ObjectKeyFromObject(&backups[0]), b)
			return apierrors.IsNotFound(err) || (err == nil && !b.DeletionTimestamp.IsZero())
		}).Should(BeTrue())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(&backups[1]), &etcdv1.EtcdBackup{})).To(Succeed())
	})
})
