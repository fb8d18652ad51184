//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"time"

	"github.com/minio/minio-go/v7"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
)

// minioHost is where the test's MinIO listens: an address pods can reach.
// On the local cluster that is the host side of the node's veth.
func minioHost() string {
	if h := os.Getenv("E2E_MINIO_HOST"); h != "" {
		return h
	}
	return "198.18.254.1"
}

func waitBackup(ctx SpecContext, ns, name string) *etcdv1.EtcdBackup {
	b := &etcdv1.EtcdBackup{}
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, b)).To(Succeed())
		g.Expect(b.Status.Phase).To(Or(Equal(etcdv1.BackupSucceeded), Equal(etcdv1.BackupFailed)), "status %+v", b.Status)
	}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	return b
}

var _ = Describe("Backups", func() {
	It("streams a snapshot to a real S3 server and reports it; bad credentials fail with the cause", func(ctx SpecContext) {
		srv := s3test.StartWith(GinkgoTB(), s3test.Options{Host: minioHost()})
		bucket := srv.NewBucket(GinkgoTB())
		ns := newNamespace(ctx)
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: ns}, StringData: map[string]string{
			"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}})).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-wrong", Namespace: ns}, StringData: map[string]string{
			"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": "wrong-secret-key"}})).To(Succeed())

		createCluster(ctx, ns, "src", 3, nil)
		waitAvailable(ctx, ns, "src", 3)
		cl := etcdClient(podEndpoints(ctx, ns, "src", "https"), clientTLS(ctx, ns, "src"))
		var rev int64
		for i := 0; i < 20; i++ {
			resp, err := cl.Put(op(ctx), fmt.Sprintf("/data/%02d", i), fmt.Sprintf("v%02d", i))
			Expect(err).NotTo(HaveOccurred())
			rev = resp.Header.Revision
		}

		dest := func(secret string) etcdv1.BackupLocation {
			return etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: srv.Endpoint, Bucket: bucket, Prefix: "e2e", Insecure: true, CredentialsSecretName: secret}}
		}
		Expect(k8s.Create(ctx, &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: ns},
			Spec: etcdv1.EtcdBackupSpec{ClusterName: "src", Destination: dest("s3")}})).To(Succeed())
		Expect(k8s.Create(ctx, &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "badcreds", Namespace: ns},
			Spec: etcdv1.EtcdBackupSpec{ClusterName: "src", Destination: dest("s3-wrong")}})).To(Succeed())
		Expect(k8s.Create(ctx, &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "nocreds", Namespace: ns},
			Spec: etcdv1.EtcdBackupSpec{ClusterName: "src", Destination: dest("s3-missing")}})).To(Succeed())

		By("failing the backup whose credentials Secret does not exist before its Job is created, with the cause and a Warning")
		Eventually(func(g Gomega) {
			b := &etcdv1.EtcdBackup{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nocreds"}, b)).To(Succeed())
			g.Expect(b.Status.Phase).To(Equal(etcdv1.BackupFailed), "%+v", b.Status)
			g.Expect(b.Status.Conditions).To(ContainElement(And(HaveField("Type", etcdv1.BackupConditionFailed), HaveField("Reason", etcdv1.ReasonSecretMissing),
				HaveField("Message", ContainSubstring("S3 credentials Secret s3-missing (key AWS_ACCESS_KEY_ID) not found")))), "%+v", b.Status.Conditions)
			g.Expect(b.Status.JobName).To(BeEmpty(), "no Job was created")
			evs := &eventsv1.EventList{}
			g.Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
			g.Expect(evs.Items).To(ContainElement(And(HaveField("Type", corev1.EventTypeWarning), HaveField("Regarding.Name", "nocreds"))))
		}).WithContext(ctx).WithTimeout(causeTimeout).WithPolling(2 * time.Second).Should(Succeed())

		good := waitBackup(ctx, ns, "good")
		Expect(good.Status.Phase).To(Equal(etcdv1.BackupSucceeded), "%+v", good.Status)
		Expect(good.Status.Revision).To(BeNumerically(">=", rev))
		Expect(good.Status.SHA256).To(HaveLen(64))
		Expect(good.Status.Location).To(Equal("s3://" + bucket + "/" + good.Status.Key))
		Expect(good.Status.Key).To(HaveSuffix(".db.zst"), "the key names the encoding (zstd by default)")
		Expect(good.Status.StoredSize).NotTo(BeNil())
		Expect(good.Status.StoredSize.Value()).To(BeNumerically("<", good.Status.Size.Value()), "zstd shrinks a snapshot")
		Expect(good.Status.EtcdVersion).To(Equal("3.7.3"))
		info, err := srv.Client(GinkgoTB()).StatObject(ctx, bucket, good.Status.Key, minio.StatObjectOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Size).To(BeNumerically(">", 0))
		_, err = srv.Client(GinkgoTB()).StatObject(ctx, bucket, good.Status.Key+".manifest.json", minio.StatObjectOptions{})
		Expect(err).NotTo(HaveOccurred())

		By("restoring the backup into a new 3-member cluster")
		_, err = cl.Put(op(ctx), "/after-backup", "not in the snapshot")
		Expect(err).NotTo(HaveOccurred())
		createCluster(ctx, ns, "restored", 3, func(c *etcdv1.EtcdCluster) {
			c.Spec.Bootstrap = &etcdv1.BootstrapSpec{Restore: &etcdv1.RestoreSpec{BackupName: "good"}}
		})
		waitAvailable(ctx, ns, "restored", 3)
		rc := etcdClient(podEndpoints(ctx, ns, "restored", "https"), clientTLS(ctx, ns, "restored"))

		By("the restored cluster's own root password works against the restored data")
		own, srcPw := &corev1.Secret{}, &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "restored-root-password"}, own)).To(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "src-root-password"}, srcPw)).To(Succeed())
		Expect(own.Data["password"]).NotTo(Equal(srcPw.Data["password"]))
		Eventually(func() error {
			cl, err := passwordClient(podEndpoints(ctx, ns, "restored", "https"), clientTLS(ctx, ns, "restored"), string(own.Data["password"]))
			if err == nil {
				_, err = cl.Put(op(ctx), "/password-check", "ok")
				_ = cl.Close()
			}
			return err
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		_, err = passwordClient(podEndpoints(ctx, ns, "restored", "https"), clientTLS(ctx, ns, "restored"), string(srcPw.Data["password"]))
		Expect(err).To(MatchError(ContainSubstring("authentication failed")), "the source's password no longer works on the restored cluster")
		_, err = rc.Delete(op(ctx), "/password-check")
		Expect(err).NotTo(HaveOccurred())
		got, err := rc.Get(op(ctx), "/data/", clientv3.WithPrefix())
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Kvs).To(HaveLen(20))
		for i, kv := range got.Kvs {
			Expect(string(kv.Value)).To(Equal(fmt.Sprintf("v%02d", i)))
		}
		after, err := rc.Get(op(ctx), "/after-backup")
		Expect(err).NotTo(HaveOccurred())
		Expect(after.Kvs).To(BeEmpty(), "a write made after the backup is not in the restored cluster")
		Expect(got.Header.Revision).To(BeNumerically(">=", rev+1_000_000_000), "revision moved forward by the bump")
		_, err = rc.Get(op(ctx), "/data/00", clientv3.WithRev(rev))
		Expect(err).To(MatchError(ContainSubstring("compacted")), "old revisions are compacted")

		bad := waitBackup(ctx, ns, "badcreds")
		Expect(bad.Status.Phase).To(Equal(etcdv1.BackupFailed))
		Expect(bad.Status.Conditions).To(ContainElement(HaveField("Message", ContainSubstring("signature"))), "%+v", bad.Status.Conditions)
	}, SpecTimeout(10*time.Minute))
})
