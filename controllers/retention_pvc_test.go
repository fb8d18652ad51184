package controllers

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdbackupschedule"
	"quorum.dev/etcd-operator/controllers/render"
)

var _ = Describe("EtcdBackupSchedule retention on a claim", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	BeforeEach(func() { DeferCleanup(func() { clockOffset.Store(0) }) })

	It("removes an expired backup's files with a prune Job before its EtcdBackup, and retries a failed one", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		dest := etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "backups", Prefix: "snaps"}}
		s := &etcdv1.EtcdBackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "keep", Namespace: ns}, Spec: etcdv1.EtcdBackupScheduleSpec{
			Schedule:       "@daily",
			Suspend:        true, // retention only: no backup is created
			BackupTemplate: etcdv1.EtcdBackupTemplate{ClusterName: "db", Destination: dest},
			Retention:      &etcdv1.BackupRetention{KeepLast: ptr.To[int32](1)},
		}}
		Expect(k8s.Create(ctx, s)).To(Succeed())
		poke := func() {
			patch := fmt.Sprintf(`{"metadata":{"annotations":{"test.quorum.dev/poke":%q}}}`, time.Now().Format(time.RFC3339Nano))
			Expect(k8s.Patch(ctx, s, client.RawPatch(types.MergePatchType, []byte(patch)))).To(Succeed())
		}
		ready := func() *metav1.Condition {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
			return meta.FindStatusCondition(s.Status.Conditions, etcdv1.ScheduleConditionReady)
		}
		// put makes a succeeded backup of the schedule, completed hoursAgo.
		put := func(name string, hoursAgo int) *etcdv1.EtcdBackup {
			b := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: s.BackupLabels()},
				Spec: etcdv1.EtcdBackupSpec{ClusterName: "db", Destination: dest}}
			Expect(controllerutil.SetControllerReference(s, b, k8s.Scheme())).To(Succeed())
			Expect(k8s.Create(ctx, b)).To(Succeed())
			// No cluster "db": the backup reconciler fails it and leaves it.
			Eventually(func() etcdv1.BackupPhase { _ = get(ctx, ns, name, b)(); return b.Status.Phase }, timeout, poll).Should(Equal(etcdv1.BackupFailed))
			done := metav1.NewTime(time.Now().Add(-time.Duration(hoursAgo) * time.Hour))
			b.Status = etcdv1.EtcdBackupStatus{Phase: etcdv1.BackupSucceeded, Key: "snaps/" + ns + "/db/" + name + ".db", CompletionTime: &done}
			Expect(k8s.Status().Update(ctx, b)).To(Succeed())
			return b
		}
		old := put("old", 30)
		put("new", 1)
		backupGone := func(name string) func() bool {
			return func() bool { return apierrors.IsNotFound(get(ctx, ns, name, &etcdv1.EtcdBackup{})()) }
		}
		job := &batchv1.Job{}
		jobName := render.PruneJobName(old)

		By("the expired backup gets a prune Job on its claim; its EtcdBackup stays meanwhile")
		Eventually(get(ctx, ns, jobName, job), timeout, poll).Should(Succeed())
		pod := job.Spec.Template.Spec
		Expect(pod.Containers[0].Args).To(Equal([]string{"prune", "--dir=/backup", "--key=snaps/" + ns + "/db/old.db"}))
		Expect(pod.Containers[0].Image).To(Equal("quorum.dev/etcd-server:" + render.DefaultVersion)) // cluster "db" does not exist
		Expect(pod.Volumes).To(HaveLen(1))
		Expect(pod.Volumes[0].PersistentVolumeClaim.ClaimName).To(Equal("backups"))
		Expect(metav1.IsControlledBy(job, old)).To(BeTrue(), "garbage-collected with its EtcdBackup")
		Consistently(backupGone("old"), 2*time.Second, poll).Should(BeFalse())

		By("a failed Job is reported in Ready and kept for the retry interval")
		firstUID := job.UID
		finishJob(ctx, job, false, "prune failed: removing backup x: permission denied")
		Eventually(func(g Gomega) {
			c := ready()
			g.Expect(c.Reason).To(Equal(etcdv1.ReasonRetentionFailed))
			g.Expect(c.Message).To(ContainSubstring("prune job " + jobName + " failed: prune failed: removing backup x: permission denied"))
		}, timeout, poll).Should(Succeed())
		poke()
		Consistently(func(g Gomega) {
			g.Expect(get(ctx, ns, jobName, job)()).To(Succeed())
			g.Expect(job.UID).To(Equal(firstUID))
			g.Expect(ready().Reason).To(Equal(etcdv1.ReasonRetentionFailed))
		}, 2*time.Second, poll).Should(Succeed())
		Expect(backupGone("old")()).To(BeFalse())

		By("after the retry interval, a new Job replaces it")
		clockOffset.Store(int64(2 * etcdbackupschedule.RequeueRetentionRetry))
		poke()
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, jobName, job)()).To(Succeed())
			g.Expect(job.UID).NotTo(Equal(firstUID))
		}, timeout, poll).Should(Succeed())
		Eventually(func() string { return ready().Reason }, timeout, poll).Should(Equal(etcdv1.ReasonSuspended))
		// Play the garbage collector: the failed Job's pod goes with it.
		Expect(k8s.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: jobName + "-x", Namespace: ns}})).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(get(ctx, ns, jobName+"-x", &corev1.Pod{})())
		}, timeout, poll).Should(BeTrue())

		By("once the Job completes, the EtcdBackup goes")
		finishJob(ctx, job, true, `{"removed":["snaps/`+ns+`/db/old.db"]}`)
		Eventually(backupGone("old"), timeout, poll).Should(BeTrue())
		Expect(backupGone("new")()).To(BeFalse())
		Eventually(func() []string {
			l := &eventsv1.EventList{}
			Expect(k8s.List(ctx, l, client.InNamespace(ns))).To(Succeed())
			var notes []string
			for _, e := range l.Items {
				if e.Reason == "BackupExpired" || e.Reason == "BackupExpiring" {
					notes = append(notes, e.Reason+": "+e.Note)
				}
			}
			return notes
		}, timeout, poll).Should(ContainElements(
			"BackupExpiring: expiring old: job "+jobName+" removes its files from claim backups",
			"BackupExpired: expired old: deleted file snaps/"+ns+"/db/old.db from claim backups"))
		Consistently(backupGone("new"), time.Second, poll).Should(BeFalse())
	})
})
