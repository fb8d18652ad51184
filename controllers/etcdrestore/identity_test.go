package etcdrestore

import (
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

var _ = Describe("a restore from a bucket reached by web identity", func() {
	It("waits in Pending, naming the missing ServiceAccount, and verifies once it exists", func(ctx SpecContext) {
		ns, nsErr := testenv.NewNamespace(ctx, k8s)
		Expect(nsErr).NotTo(HaveOccurred())
		Expect(k8s.Create(ctx, &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}})).To(Succeed())
		x := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: ns}, Spec: etcdv1.EtcdRestoreSpec{ClusterName: "db", Key: "ns/db/snap.db",
			Source: &etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt",
				WebIdentity: &etcdv1.S3WebIdentity{ServiceAccountName: "restore-sa"}}}}}
		Expect(k8s.Create(ctx, x)).To(Succeed())
		r := newReconciler(k8s, events.NewFakeRecorder(10))
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(x)}
		jobKey := client.ObjectKey{Namespace: x.Namespace, Name: render.VerifyJobName(x)}

		res, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.RequeueAfter).To(Equal(requeueRestoreWait), "looked at again, not in a hot loop")
		Expect(apierrors.IsNotFound(k8s.Get(ctx, jobKey, &batchv1.Job{}))).To(BeTrue(), "no verification Job")
		Expect(k8s.Get(ctx, req.NamespacedName, x)).To(Succeed())
		Expect(x.Status.Phase).To(Equal(etcdv1.RestorePending))
		c := meta.FindStatusCondition(x.Status.Conditions, etcdv1.RestoreConditionComplete)
		Expect(c).NotTo(BeNil())
		Expect(c.Reason).To(Equal(etcdv1.ReasonServiceAccountMissing))
		Expect(c.Message).To(SatisfyAll(
			ContainSubstring("ServiceAccount restore-sa (s3.webIdentity.serviceAccountName) not found in namespace "+x.Namespace),
			ContainSubstring("the restore waits, checked again every 15s"), ContainSubstring("the cluster is not touched")))
		Expect(meta.FindStatusCondition(x.Status.Conditions, etcdv1.RestoreConditionFailed)).To(BeNil(), "not failed")

		By("the ServiceAccount is created")
		Expect(k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "restore-sa", Namespace: x.Namespace}})).To(Succeed())
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, req.NamespacedName, x)).To(Succeed())
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreVerifying), "%+v", x.Status.Conditions)
		job := &batchv1.Job{}
		Expect(k8s.Get(ctx, jobKey, job)).To(Succeed())
		Expect(job.Spec.Template.Spec.ServiceAccountName).To(Equal("restore-sa"))
	}, SpecTimeout(30*time.Second))
})
