//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
)

func waitRestore(ctx SpecContext, ns, name string) *etcdv1.EtcdRestore {
	x := &etcdv1.EtcdRestore{}
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, x)).To(Succeed())
		g.Expect(x.Status.Phase).To(Or(Equal(etcdv1.RestoreSucceeded), Equal(etcdv1.RestoreFailed)), "status %+v", x.Status)
	}).WithContext(ctx).WithTimeout(8 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	return x
}

var _ = Describe("In-place restore", func() {
	It("refuses a corrupt snapshot without touching the cluster, and brings back a cluster that lost quorum", func(ctx SpecContext) {
		srv := s3test.StartWith(GinkgoTB(), s3test.Options{Host: minioHost()})
		bucket := srv.NewBucket(GinkgoTB())
		ns := newNamespace(ctx)
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: ns}, StringData: map[string]string{
			"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}})).To(Succeed())
		loc := etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: srv.Endpoint, Bucket: bucket, Insecure: true, CredentialsSecretName: "s3"}}

		createCluster(ctx, ns, "dr", 3, nil)
		before := waitAvailable(ctx, ns, "dr", 3)
		tlsCfg := clientTLS(ctx, ns, "dr")
		cl := etcdClient(podEndpoints(ctx, ns, "dr", "https"), tlsCfg)
		var rev int64
		for i := 0; i < 20; i++ {
			resp, err := cl.Put(op(ctx), fmt.Sprintf("/data/%02d", i), fmt.Sprintf("v%02d", i))
			Expect(err).NotTo(HaveOccurred())
			rev = resp.Header.Revision
		}
		Expect(k8s.Create(ctx, &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: ns},
			Spec: etcdv1.EtcdBackupSpec{ClusterName: "dr", Destination: loc}})).To(Succeed())
		good := waitBackup(ctx, ns, "good")
		Expect(good.Status.Phase).To(Equal(etcdv1.BackupSucceeded), "%+v", good.Status)
		_, err := cl.Put(op(ctx), "/after-backup", "not in the snapshot")
		Expect(err).NotTo(HaveOccurred())

		By("refusing a corrupt copy of the snapshot before stopping anything")
		mc := srv.Client(GinkgoTB())
		for _, suffix := range []string{"", ".manifest.json"} {
			obj, err := mc.GetObject(ctx, bucket, good.Status.Key+suffix, minio.GetObjectOptions{})
			Expect(err).NotTo(HaveOccurred())
			b, err := io.ReadAll(obj)
			Expect(err).NotTo(HaveOccurred())
			if suffix == "" {
				b[len(b)/2] ^= 0xff
			}
			_, err = mc.PutObject(ctx, bucket, "corrupt.db"+suffix, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(k8s.Create(ctx, &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "corrupt", Namespace: ns},
			Spec: etcdv1.EtcdRestoreSpec{ClusterName: "dr", Source: &loc, Key: "corrupt.db"}})).To(Succeed())
		bad := waitRestore(ctx, ns, "corrupt")
		Expect(bad.Status.Phase).To(Equal(etcdv1.RestoreFailed))
		cond := meta.FindStatusCondition(bad.Status.Conditions, etcdv1.RestoreConditionFailed)
		Expect(cond).NotTo(BeNil())
		Expect(cond.Reason).To(Equal(etcdv1.ReasonVerificationFailed))
		Expect(cond.Message).To(ContainSubstring("corrupt"))
		waitAvailable(ctx, ns, "dr", 3)
		after, err := cl.Get(op(ctx), "/after-backup")
		Expect(err).NotTo(HaveOccurred())
		Expect(after.Kvs).To(HaveLen(1), "the cluster kept its data")

		By("losing quorum: two members lose their volumes")
		for _, m := range []string{"dr-1", "dr-2"} {
			pvc := &corev1.PersistentVolumeClaim{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-" + m}, pvc)).To(Succeed())
			Expect(k8s.Delete(ctx, pvc)).To(Succeed())
			Expect(k8s.Delete(ctx, &corev1.Pod{ObjectMeta: metav1ObjectMeta(ns, m)})).To(Succeed())
		}
		Eventually(func(g Gomega) {
			c := &etcdv1.EtcdCluster{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dr"}, c)).To(Succeed())
			g.Expect(meta.IsStatusConditionFalse(c.Status.Conditions, etcdv1.ConditionAvailable)).To(BeTrue(), "%+v", c.Status.Conditions)
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())

		By("restoring every member in place from the backup")
		Expect(k8s.Create(ctx, &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "back", Namespace: ns},
			Spec: etcdv1.EtcdRestoreSpec{ClusterName: "dr", BackupName: "good"}})).To(Succeed())
		x := waitRestore(ctx, ns, "back")
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreSucceeded), "%+v", x.Status)
		Expect(x.Status.ClusterID).NotTo(BeEmpty())
		Expect(x.Status.ClusterID).NotTo(Equal(before.Status.ClusterID), "a restored cluster has a new cluster ID")
		c := waitAvailable(ctx, ns, "dr", 3)
		Expect(c.Status.Restore).NotTo(BeNil())
		Expect(c.Status.Restore.Done).To(BeTrue())
		Expect(c.Status.ClientEndpoint).To(Equal(before.Status.ClientEndpoint), "same name and Services")

		rc := etcdClient(podEndpoints(ctx, ns, "dr", "https"), tlsCfg)
		got, err := rc.Get(op(ctx), "/data/", clientv3.WithPrefix())
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Kvs).To(HaveLen(20))
		for i, kv := range got.Kvs {
			Expect(string(kv.Value)).To(Equal(fmt.Sprintf("v%02d", i)))
		}
		after, err = rc.Get(op(ctx), "/after-backup")
		Expect(err).NotTo(HaveOccurred())
		Expect(after.Kvs).To(BeEmpty(), "exactly the backed-up data")
		Expect(got.Header.Revision).To(BeNumerically(">=", rev+1_000_000_000), "revision moved forward")
		put, err := rc.Put(op(ctx), "/after-restore", "x")
		Expect(err).NotTo(HaveOccurred(), "the restored cluster takes writes with the same certificates")
		Expect(put.Header.Revision).To(BeNumerically(">", got.Header.Revision))
		expectEqualHashKV(ctx, ns, "dr", tlsCfg)
	}, SpecTimeout(20*time.Minute))
})

var _ = Describe("Recovery from a survivor", func() {
	It("forces a new cluster from the most up-to-date member when quorum is lost, and the others rejoin", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "sv", 3, nil)
		before := waitAvailable(ctx, ns, "sv", 3)
		tlsCfg := clientTLS(ctx, ns, "sv")
		cl := etcdClient(podEndpoints(ctx, ns, "sv", "https"), tlsCfg)
		for i := 0; i < 20; i++ {
			_, err := cl.Put(op(ctx), fmt.Sprintf("/data/%02d", i), fmt.Sprintf("v%02d", i))
			Expect(err).NotTo(HaveOccurred())
		}

		By("refusing to force a new cluster while the cluster has quorum")
		Expect(k8s.Create(ctx, &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "too-early", Namespace: ns},
			Spec: etcdv1.EtcdRestoreSpec{ClusterName: "sv", FromSurvivor: &etcdv1.SurvivorSource{}}})).To(Succeed())
		early := waitRestore(ctx, ns, "too-early")
		Expect(early.Status.Phase).To(Equal(etcdv1.RestoreFailed))
		Expect(meta.FindStatusCondition(early.Status.Conditions, etcdv1.RestoreConditionFailed).Reason).To(Equal(etcdv1.ReasonClusterHasQuorum))

		By("cutting two members off from their peers: no quorum anywhere")
		for _, m := range []string{"sv-1", "sv-2"} {
			pod := &corev1.Pod{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: m}, pod)).To(Succeed())
			heal, err := isolatePeers(pod.Status.PodIP)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { _ = heal() })
		}
		Eventually(func(g Gomega) {
			c := &etcdv1.EtcdCluster{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "sv"}, c)).To(Succeed())
			g.Expect(meta.IsStatusConditionFalse(c.Status.Conditions, etcdv1.ConditionAvailable)).To(BeTrue(), "%+v", c.Status.Conditions)
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())

		By("forcing a new cluster from a survivor")
		Expect(k8s.Create(ctx, &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "rescue", Namespace: ns},
			Spec: etcdv1.EtcdRestoreSpec{ClusterName: "sv", FromSurvivor: &etcdv1.SurvivorSource{}}})).To(Succeed())
		x := waitRestore(ctx, ns, "rescue")
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreSucceeded), "%+v", x.Status)
		Expect(x.Status.Survivor).To(HavePrefix("sv-"))
		waitSettled(ctx, ns, "sv", 3)
		c := waitAvailable(ctx, ns, "sv", 3)
		Expect(c.Status.ClientEndpoint).To(Equal(before.Status.ClientEndpoint))

		rc := etcdClient(podEndpoints(ctx, ns, "sv", "https"), tlsCfg)
		got, err := rc.Get(op(ctx), "/data/", clientv3.WithPrefix())
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Kvs).To(HaveLen(20), "every write the survivor had is there")
		_, err = rc.Put(op(ctx), "/after", "x")
		Expect(err).NotTo(HaveOccurred())
		expectEqualHashKV(ctx, ns, "sv", tlsCfg)
	}, SpecTimeout(20*time.Minute))
})
