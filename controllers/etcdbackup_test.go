package controllers

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var _ = Describe("EtcdBackup", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond
	s3 := etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", CredentialsSecretName: "creds"}}

	It("fails at once for a cluster that does not exist", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		b := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: ns}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "nope", Destination: s3}}
		Expect(k8s.Create(ctx, b)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "b", b)()).To(Succeed())
			g.Expect(b.Status.Phase).To(Equal(etcdv1.BackupFailed))
			cond := meta.FindStatusCondition(b.Status.Conditions, etcdv1.BackupConditionFailed)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonClusterNotFound))
			g.Expect(cond.Message).To(Equal("EtcdCluster nope not found"))
		}, timeout, poll).Should(Succeed())
	})

	It("waits for an unavailable cluster without creating a job", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		Expect(k8s.Create(ctx, &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}})).To(Succeed())
		b := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: ns}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "db", Destination: s3}}
		Expect(k8s.Create(ctx, b)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "b", b)()).To(Succeed())
			g.Expect(b.Status.Phase).To(Equal(etcdv1.BackupPending))
			g.Expect(meta.FindStatusCondition(b.Status.Conditions, etcdv1.BackupConditionComplete).Reason).To(Equal(etcdv1.ReasonClusterUnavailable))
			g.Expect(b.Status.Key).To(HavePrefix(ns + "/db/b-"))
			g.Expect(b.Status.Key).To(HaveSuffix(".db.zst"), "the key names the encoding (zstd by default)")
		}, timeout, poll).Should(Succeed())
		Consistently(get(ctx, ns, "b-backup", &batchv1.Job{}), time.Second, poll).ShouldNot(Succeed())
	})

	It("is immutable and needs exactly one destination", func(ctx SpecContext) {
		bad := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{GenerateName: "b-", Namespace: "default"}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "x"}}
		err := k8s.Create(ctx, bad)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("exactly one of s3 and pvc must be set"))

		b := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{GenerateName: "b-", Namespace: "default"}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "x", Destination: s3}}
		Expect(k8s.Create(ctx, b)).To(Succeed())
		// A patch carries no resourceVersion: only admission can refuse it.
		before := b.DeepCopy()
		b.Spec.ClusterName = "y"
		err = k8s.Patch(ctx, b, client.MergeFrom(before))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("an EtcdBackup is immutable"))
	})
})

var _ = Describe("EtcdCluster restored from a backup", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	It("waits for its EtcdBackup, and restores every new member from a direct source", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "back", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{
			Replicas: ptr.To[int32](3), Bootstrap: &etcdv1.BootstrapSpec{Restore: &etcdv1.RestoreSpec{BackupName: "missing"}}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "back", c)()).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionProgressing)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonRestoreSourcePending), "a backup not created yet is waited for (restoreSourceGrace)")
			g.Expect(cond.Message).To(ContainSubstring("waiting for EtcdBackup missing to restore from: not found yet"))
			g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionDegraded)).To(BeFalse())
		}, timeout, poll).Should(Succeed())
		Consistently(get(ctx, ns, "back", &appsv1.StatefulSet{}), time.Second, poll).ShouldNot(Succeed(), "no member starts empty")

		By("a backup that has not finished is a planned wait: Progressing, no Degraded, no Warning")
		s3 := s3Location
		Expect(k8s.Create(ctx, &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}})).To(Succeed())
		Expect(k8s.Create(ctx, &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "unfinished", Namespace: ns}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "db", Destination: s3}})).To(Succeed())
		Eventually(func(g Gomega) {
			b := &etcdv1.EtcdBackup{}
			g.Expect(get(ctx, ns, "unfinished", b)()).To(Succeed())
			g.Expect(b.Status.Phase).To(Equal(etcdv1.BackupPending), "its cluster is not available")
		}, timeout, poll).Should(Succeed())
		waiting := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "waiting", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{
			Replicas: ptr.To[int32](1), Bootstrap: &etcdv1.BootstrapSpec{Restore: &etcdv1.RestoreSpec{BackupName: "unfinished"}}}}
		Expect(k8s.Create(ctx, waiting)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "waiting", waiting)()).To(Succeed())
			cond := meta.FindStatusCondition(waiting.Status.Conditions, etcdv1.ConditionProgressing)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonRestoreSourcePending))
			g.Expect(cond.Message).To(ContainSubstring("waiting for EtcdBackup unfinished to restore from: it is Pending"))
		}, timeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(get(ctx, ns, "waiting", waiting)()).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(waiting.Status.Conditions, etcdv1.ConditionDegraded)).To(BeFalse(), "waiting for a backup is planned")
			evs := &eventsv1.EventList{}
			g.Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
			for _, e := range evs.Items {
				g.Expect(e.Regarding.Name == "waiting" && e.Type == corev1.EventTypeWarning).To(BeFalse(), "Warning event %s: %s", e.Reason, e.Note)
			}
		}, 2*time.Second, poll).Should(Succeed())

		By("a Failed backup is Degraded")
		Expect(k8s.Create(ctx, &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "failed", Namespace: ns}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "nope", Destination: s3}})).To(Succeed())
		fromFailed := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "from-failed", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{
			Replicas: ptr.To[int32](1), Bootstrap: &etcdv1.BootstrapSpec{Restore: &etcdv1.RestoreSpec{BackupName: "failed"}}}}
		Expect(k8s.Create(ctx, fromFailed)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "from-failed", fromFailed)()).To(Succeed())
			cond := meta.FindStatusCondition(fromFailed.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonRestoreSourceNotReady))
			g.Expect(cond.Message).To(ContainSubstring("EtcdBackup failed to restore from is Failed"))
		}, timeout, poll).Should(Succeed())

		direct := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "direct", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{
			Replicas: ptr.To[int32](3), Bootstrap: &etcdv1.BootstrapSpec{Restore: &etcdv1.RestoreSpec{
				Source: &s3Location, Key: "ns/db/b-20261125T000000Z.db"}}}}
		Expect(k8s.Create(ctx, direct)).To(Succeed())
		sts := &appsv1.StatefulSet{}
		Eventually(get(ctx, ns, "direct", sts), timeout, poll).Should(Succeed())
		Expect(sts.Spec.Template.Spec.InitContainers).To(HaveLen(1))
		init := sts.Spec.Template.Spec.InitContainers[0]
		Expect(init.Args).To(ContainElements("restore", "--only-new-cluster", "--key=ns/db/b-20261125T000000Z.db", "--bucket=bkt"))
	})

	It("refuses an ambiguous or changed restore", func(ctx SpecContext) {
		bad := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{GenerateName: "r-", Namespace: "default"}, Spec: etcdv1.EtcdClusterSpec{
			Bootstrap: &etcdv1.BootstrapSpec{Restore: &etcdv1.RestoreSpec{BackupName: "a", Source: &s3Location, Key: "k"}}}}
		err := k8s.Create(ctx, bad)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("exactly one of backupName and source must be set"))

		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{GenerateName: "r-", Namespace: "default"}, Spec: etcdv1.EtcdClusterSpec{
			Bootstrap: &etcdv1.BootstrapSpec{Restore: &etcdv1.RestoreSpec{BackupName: "a"}}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		before := c.DeepCopy()
		c.Spec.Bootstrap.Restore.BackupName = "b"
		err = k8s.Patch(ctx, c, client.MergeFrom(before))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("bootstrap is immutable"))
	})
})

var s3Location = etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", CredentialsSecretName: "creds"}}
