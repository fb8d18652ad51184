package etcdbackup

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/testenv"
	"quorum.dev/etcd-operator/controllers/render"
)

var _ = Describe("a backup whose Job succeeded", func() {
	It("succeeds with the Job's report, read from the API server although the cache lacks the Job's pod", func(ctx SpecContext) {
		ns, err := testenv.NewNamespace(ctx, k8s)
		Expect(err).NotTo(HaveOccurred())
		availableCluster(ctx, ns)
		secret(ctx, ns, "creds", creds)
		b := s3Backup(ns)
		Expect(k8s.Create(ctx, b)).To(Succeed())
		cache := &testenv.Lagging{Client: k8s}
		r := &Reconciler{Client: cache, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(20), Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}}
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(b)}
		_, err = r.Reconcile(ctx, req)
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
