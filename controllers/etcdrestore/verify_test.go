package etcdrestore

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
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
