package etcdbackup

import (
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

var _ = Describe("a backup to a bucket reached by a cloud identity", func() {
	webIdentity := func(s3 *etcdv1.S3Location) {
		s3.WebIdentity = &etcdv1.S3WebIdentity{ServiceAccountName: "backup-sa", RoleARN: "arn:aws:iam::1:role/r"}
	}
	instanceRole := func(s3 *etcdv1.S3Location) {
		s3.InstanceRole = &etcdv1.S3InstanceRole{ServiceAccountName: "backup-sa"}
	}
	// pass creates the backup in a new namespace with an available
	// cluster, the ServiceAccount when withSA, and runs one pass.
	pass := func(ctx SpecContext, mode func(*etcdv1.S3Location), withSA bool) (*etcdv1.EtcdBackup, []string) {
		GinkgoHelper()
		ns, err := testenv.NewNamespace(ctx, k8s)
		Expect(err).NotTo(HaveOccurred())
		availableCluster(ctx, ns)
		if withSA {
			Expect(k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "backup-sa", Namespace: ns}})).To(Succeed())
		}
		b := s3Backup(ns)
		b.Spec.Destination.S3.CredentialsSecretName = ""
		mode(b.Spec.Destination.S3)
		Expect(k8s.Create(ctx, b)).To(Succeed())
		rec := events.NewFakeRecorder(20)
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: rec, Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}}
		_, err = r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(b)})
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(b), b)).To(Succeed())
		return b, testenv.Drain(rec)
	}

	DescribeTable("fails before its Job is created when its ServiceAccount does not exist",
		func(ctx SpecContext, mode func(*etcdv1.S3Location), field, how string) {
			b, got := pass(ctx, mode, false)
			Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: render.BackupJobName(b)}, &batchv1.Job{}))).To(BeTrue(), "no Job")
			Expect(b.Status.Phase).To(Equal(etcdv1.BackupFailed))
			failed := meta.FindStatusCondition(b.Status.Conditions, etcdv1.BackupConditionFailed)
			Expect(failed).NotTo(BeNil())
			Expect(failed.Reason).To(Equal(etcdv1.ReasonServiceAccountMissing))
			want := "ServiceAccount backup-sa (s3." + field + ") not found in namespace " + b.Namespace
			Expect(failed.Message).To(SatisfyAll(ContainSubstring(want), ContainSubstring(how),
				ContainSubstring("the backup failed before its Job was created: create the ServiceAccount, then a new EtcdBackup")))
			Expect(got).To(HaveLen(1), "%q", got)
			Expect(got[0]).To(SatisfyAll(HavePrefix(corev1.EventTypeWarning+" BackupFailed"), ContainSubstring(want)))
		},
		Entry("webIdentity", webIdentity, "webIdentity.serviceAccountName", "system:serviceaccount:"),
		Entry("instanceRole with a service account", instanceRole, "instanceRole.serviceAccountName", "EKS Pod Identity"),
	)

	DescribeTable("starts its Job, running as the ServiceAccount, when it exists",
		func(ctx SpecContext, mode func(*etcdv1.S3Location)) {
			b, _ := pass(ctx, mode, true)
			Expect(b.Status.Phase).To(Equal(etcdv1.BackupRunning), "%+v", b.Status.Conditions)
			job := &batchv1.Job{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: render.BackupJobName(b)}, job)).To(Succeed())
			Expect(job.Spec.Template.Spec.ServiceAccountName).To(Equal("backup-sa"))
		},
		Entry("webIdentity", webIdentity),
		Entry("instanceRole with a service account", instanceRole),
	)

	It("starts its Job with an instanceRole naming no ServiceAccount (the namespace's default is not checked)", func(ctx SpecContext) {
		b, _ := pass(ctx, func(s3 *etcdv1.S3Location) { s3.InstanceRole = &etcdv1.S3InstanceRole{} }, false)
		Expect(b.Status.Phase).To(Equal(etcdv1.BackupRunning), "%+v", b.Status.Conditions)
	})
})
