package etcdrestore

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/testenv"
)

var _ = Describe("a members' restore that failed after they were stopped", func() {
	It("stays Restoring (RollingBack) while the members are put back, then fails with the cause once the cluster is back", func(ctx SpecContext) {
		x := createS3Restore(ctx)
		now := metav1.Now()
		x.Status = etcdv1.EtcdRestoreStatus{Phase: etcdv1.RestoreRestoring, RestoreID: "r1", StartTime: &now, Location: "s3://bkt/ns/db/snap.db"}
		Expect(k8s.Status().Update(ctx, x)).To(Succeed())
		c := &etcdv1.EtcdCluster{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: x.Namespace, Name: "db"}, c)).To(Succeed())
		cause := "the restore init container of db-1 failed 3 times: restore failed: snapshot not found"
		c.Status.Restore = &etcdv1.ClusterRestoreStatus{Name: x.Name, RestoreID: "r1", StartTime: &now, Failure: cause}
		Expect(k8s.Status().Update(ctx, c)).To(Succeed())

		rec := events.NewFakeRecorder(10)
		r := newReconciler(k8s, rec)
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(x)}
		_, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, req.NamespacedName, x)).To(Succeed())
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreRestoring))
		complete := meta.FindStatusCondition(x.Status.Conditions, etcdv1.RestoreConditionComplete)
		Expect(complete).NotTo(BeNil())
		Expect(complete.Reason).To(Equal(etcdv1.ReasonRollingBack))
		Expect(complete.Message).To(And(ContainSubstring(cause), ContainSubstring("putting every member of db back")))

		By("the cluster reports every member back on its old data")
		c.Status.Restore.RolledBack, c.Status.Restore.ClusterID = true, "abc123"
		Expect(k8s.Status().Update(ctx, c)).To(Succeed())
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, req.NamespacedName, x)).To(Succeed())
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreFailed))
		failed := meta.FindStatusCondition(x.Status.Conditions, etcdv1.RestoreConditionFailed)
		Expect(failed).NotTo(BeNil())
		Expect(failed.Reason).To(Equal(etcdv1.ReasonRolledBack))
		Expect(failed.Message).To(And(ContainSubstring(cause), ContainSubstring("put back on its data from before the restore"),
			ContainSubstring("available again with its old data (cluster ID abc123)")))
		got := testenv.Drain(rec)
		Expect(got).To(ContainElement(HavePrefix(corev1.EventTypeWarning+" RestoreFailed")), "%q", got)
	})
})
