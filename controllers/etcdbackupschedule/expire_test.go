package etcdbackupschedule

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
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
