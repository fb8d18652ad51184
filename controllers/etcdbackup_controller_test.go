package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

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
		b.Spec.ClusterName = "y"
		err = k8s.Update(ctx, b)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("an EtcdBackup is immutable"))
	})
})
