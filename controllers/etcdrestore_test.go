package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/testenv"
	"quorum.dev/etcd-operator/controllers/render"
)

// finishJob plays the Job controller and kubelet, which envtest lacks: a
// pod of the Job that ended with message, then the Job's final condition.
func finishJob(ctx context.Context, job *batchv1.Job, ok bool, message string) {
	GinkgoHelper()
	Expect(testenv.FinishJob(ctx, k8s, job, ok, message)).To(Succeed())
}

var _ = Describe("EtcdRestore", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	DescribeTable("refuses a bad spec",
		func(ctx SpecContext, spec etcdv1.EtcdRestoreSpec, message string) {
			x := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{GenerateName: "bad-", Namespace: "default"}, Spec: spec}
			err := k8s.Create(ctx, x)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("no source", etcdv1.EtcdRestoreSpec{ClusterName: "db"}, "exactly one of backupName, source and fromSurvivor must be set"),
		Entry("two sources", etcdv1.EtcdRestoreSpec{ClusterName: "db", BackupName: "b", Source: &s3Location, Key: "k"}, "exactly one of backupName, source and fromSurvivor must be set"),
		Entry("a backup and a survivor", etcdv1.EtcdRestoreSpec{ClusterName: "db", BackupName: "b", FromSurvivor: &etcdv1.SurvivorSource{}}, "exactly one of backupName, source and fromSurvivor must be set"),
		Entry("source without key", etcdv1.EtcdRestoreSpec{ClusterName: "db", Source: &s3Location}, "source needs key"),
		Entry("no cluster", etcdv1.EtcdRestoreSpec{BackupName: "b"}, "spec.clusterName"),
		Entry("key with a backup", etcdv1.EtcdRestoreSpec{ClusterName: "db", BackupName: "b",
			EncryptionKey: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "k"}, Key: "key"}}, "encryptionKey applies to source only"),
	)

	It("is immutable", func(ctx SpecContext) {
		x := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{GenerateName: "imm-", Namespace: "default"}, Spec: etcdv1.EtcdRestoreSpec{ClusterName: "nope", BackupName: "b"}}
		Expect(k8s.Create(ctx, x)).To(Succeed())
		before := x.DeepCopy()
		x.Spec.BackupName = "c"
		err := k8s.Patch(ctx, x, client.MergeFrom(before))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("an EtcdRestore is immutable"))
	})

	It("verifies first, leaves the cluster alone when verification fails, then restores every member in place", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		sts := &appsv1.StatefulSet{}
		Eventually(get(ctx, ns, "db", sts), timeout, poll).Should(Succeed())

		// Waits for its backup.
		bad := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns}, Spec: etcdv1.EtcdRestoreSpec{ClusterName: "db", BackupName: "b"}}
		Expect(k8s.Create(ctx, bad)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "bad", bad)()).To(Succeed())
			g.Expect(bad.Status.Phase).To(Equal(etcdv1.RestorePending))
			cond := meta.FindStatusCondition(bad.Status.Conditions, etcdv1.RestoreConditionComplete)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonSourceNotReady))
			g.Expect(cond.Message).To(ContainSubstring("EtcdBackup b to restore from not found"))
		}, timeout, poll).Should(Succeed())

		// A second restore of the same cluster waits for the first.
		second := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "second", Namespace: ns}, Spec: etcdv1.EtcdRestoreSpec{
			ClusterName: "db", Source: &s3Location, Key: "ns/db/direct.db"}}
		Expect(k8s.Create(ctx, second)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "second", second)()).To(Succeed())
			cond := meta.FindStatusCondition(second.Status.Conditions, etcdv1.RestoreConditionComplete)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonAnotherRestore))
		}, timeout, poll).Should(Succeed())

		// The backup succeeds: the snapshot is verified by a Job.
		b := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: ns}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "db", Destination: s3Location}}
		Expect(k8s.Create(ctx, b)).To(Succeed())
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := get(ctx, ns, "b", b)(); err != nil {
				return err
			}
			b.Status.Phase, b.Status.Key = etcdv1.BackupSucceeded, "ns/db/b.db"
			return k8s.Status().Update(ctx, b)
		})).To(Succeed())
		job := &batchv1.Job{}
		Eventually(get(ctx, ns, "bad-verify", job), timeout, poll).Should(Succeed())
		Expect(job.Spec.Template.Spec.Containers[0].Args).To(ContainElements("restore", "--verify-only", "--key=ns/db/b.db", "--bucket=bkt"))
		// The Job is created before the status patch that records it lands.
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "bad", bad)()).To(Succeed())
			g.Expect(bad.Status.Phase).To(Equal(etcdv1.RestoreVerifying))
		}, timeout, poll).Should(Succeed())

		finishJob(ctx, job, false, "restore failed: backup object is corrupt: checksum mismatch")
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "bad", bad)()).To(Succeed())
			g.Expect(bad.Status.Phase).To(Equal(etcdv1.RestoreFailed))
			cond := meta.FindStatusCondition(bad.Status.Conditions, etcdv1.RestoreConditionFailed)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonVerificationFailed))
			g.Expect(cond.Message).To(ContainSubstring("checksum mismatch; the cluster was not touched"))
		}, timeout, poll).Should(Succeed())
		Expect(get(ctx, ns, "db", sts)()).To(Succeed())
		Expect(sts.Spec.Template.Spec.InitContainers).To(BeEmpty())

		// An old member pod, to be stopped once the restore goes ahead.
		old := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: ns, Labels: c.SelectorLabels()},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "etcd", Image: "i"}}}}
		Expect(k8s.Create(ctx, old)).To(Succeed())

		// The second restore goes next; its snapshot verifies.
		Eventually(get(ctx, ns, "second-verify", job), timeout, poll).Should(Succeed())
		finishJob(ctx, job, true, `{"verified":true,"location":"s3://bkt/ns/db/direct.db","sha256":"abc","revision":42}`)
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "second", second)()).To(Succeed())
			g.Expect(second.Status.Phase).To(Equal(etcdv1.RestoreRestoring))
			g.Expect(second.Status.SnapshotRevision).To(Equal(int64(42)))
			g.Expect(second.Status.RestoreID).NotTo(BeEmpty())
		}, timeout, poll).Should(Succeed())
		id := second.Status.RestoreID

		// The cluster carries it out: restore ID in the ConfigMap, every
		// desired member listed, an in-place init container, old pods
		// stopped, status saying so.
		Eventually(func(g Gomega) {
			cm := &corev1.ConfigMap{}
			g.Expect(get(ctx, ns, c.ConfigMapName(), cm)()).To(Succeed())
			g.Expect(cm.Data[render.ConfigKeyRestoreID]).To(Equal(id))
			g.Expect(cm.Data[render.ConfigKeyInitialCluster]).To(Equal(render.InitialCluster(c, 3, "cluster.local")))
			g.Expect(get(ctx, ns, "db", sts)()).To(Succeed())
			g.Expect(sts.Spec.Template.Annotations).To(HaveKeyWithValue(render.AnnotationRestoreID, id))
			g.Expect(sts.Spec.Template.Spec.InitContainers).To(HaveLen(1))
			g.Expect(sts.Spec.Template.Spec.InitContainers[0].Args).To(ContainElements("--only-active-restore", "--force",
				"--restore-id="+id, "--keep-replaced="+render.KeptDataDir, "--key=ns/db/direct.db"))
			g.Expect(get(ctx, ns, "db-0", &corev1.Pod{})()).NotTo(Succeed(), "the old member pod is stopped")
			g.Expect(get(ctx, ns, "db", c)()).To(Succeed())
			g.Expect(c.Status.Restore).NotTo(BeNil())
			g.Expect(c.Status.Restore.RestoreID).To(Equal(id))
			g.Expect(c.Status.Restore.Done).To(BeFalse())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionProgressing)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonRestoringInPlace))
		}, timeout, poll).Should(Succeed())

		// Deleting a restore that is stopping members does not abandon it
		// half-way: it stays until the cluster reports it done.
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "second", second)()).To(Succeed())
			g.Expect(second.Finalizers).To(ContainElement("etcd.quorum.dev/restore-in-progress"))
		}, timeout, poll).Should(Succeed())
		Expect(get(ctx, ns, "bad", bad)()).To(Succeed())
		Expect(bad.Finalizers).To(BeEmpty(), "a failed restore holds nothing")
		Expect(k8s.Delete(ctx, second)).To(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(get(ctx, ns, "second", second)()).To(Succeed())
			g.Expect(second.DeletionTimestamp).NotTo(BeNil())
			g.Expect(get(ctx, ns, "db", sts)()).To(Succeed())
			g.Expect(sts.Spec.Template.Annotations).To(HaveKeyWithValue(render.AnnotationRestoreID, id))
		}, 2*time.Second, poll).Should(Succeed())

		// A pod made from the restore's template is left alone.
		restored := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-1", Namespace: ns, Labels: c.SelectorLabels(),
			Annotations: map[string]string{render.AnnotationRestoreID: id}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "etcd", Image: "i"}}}}
		Expect(k8s.Create(ctx, restored)).To(Succeed())
		poke(c)
		Consistently(get(ctx, ns, "db-1", &corev1.Pod{}), 2*time.Second, poll).Should(Succeed())
	})
})

var _ = Describe("EtcdRestore from a survivor", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	It("names the survivor in the ConfigMap and restarts every member pod once", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(get(ctx, ns, "db", &appsv1.StatefulSet{}), timeout, poll).Should(Succeed())
		var uids []string
		for _, m := range []string{"db-0", "db-1", "db-2"} {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: m, Namespace: ns, Labels: c.SelectorLabels()},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "etcd", Image: "i"}}}}
			Expect(k8s.Create(ctx, pod)).To(Succeed())
			uids = append(uids, string(pod.UID))
		}

		x := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "rescue", Namespace: ns}, Spec: etcdv1.EtcdRestoreSpec{
			ClusterName: "db", FromSurvivor: &etcdv1.SurvivorSource{Member: "db-1"}}}
		Expect(k8s.Create(ctx, x)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "rescue", x)()).To(Succeed())
			g.Expect(x.Status.Phase).To(Equal(etcdv1.RestoreRestoring))
			g.Expect(x.Status.RestoreID).NotTo(BeEmpty())
		}, timeout, poll).Should(Succeed())

		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "db", c)()).To(Succeed())
			g.Expect(c.Status.Restore).NotTo(BeNil())
			g.Expect(c.Status.Restore.Survivor).To(Equal("db-1"))
			g.Expect(c.Status.Restore.StoppedPods).To(ConsistOf(uids))
			cm := &corev1.ConfigMap{}
			g.Expect(get(ctx, ns, c.ConfigMapName(), cm)()).To(Succeed())
			g.Expect(cm.Data[render.ConfigKeyForceNewCluster]).To(Equal("db-1/" + x.Status.RestoreID))
			for _, m := range []string{"db-0", "db-1", "db-2"} {
				g.Expect(get(ctx, ns, m, &corev1.Pod{})()).NotTo(Succeed(), "%s restarted", m)
			}
		}, timeout, poll).Should(Succeed())

		// A pod made after the recovery started is not restarted again.
		fresh := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-1", Namespace: ns, Labels: c.SelectorLabels()},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "etcd", Image: "i"}}}}
		Expect(k8s.Create(ctx, fresh)).To(Succeed())
		mutate(ctx, ns, "db", poke)
		Consistently(get(ctx, ns, "db-1", &corev1.Pod{}), 2*time.Second, poll).Should(Succeed())
	})
})
