//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
)

// etcdctlSnapshotJob runs the upstream etcdctl of the server image,
// `etcdctl snapshot save /snaps/<file>`, against cluster name with its
// root client certificate, onto claim: a snapshot Quorum did not make.
func etcdctlSnapshotJob(ctx context.Context, ns, name, claim, file string) {
	member := &corev1.Pod{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-0"}, member)).To(Succeed())
	job := &batchv1.Job{ObjectMeta: metav1ObjectMeta(ns, "etcdctl-save"), Spec: batchv1.JobSpec{
		BackoffLimit: ptr.To[int32](0),
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy:   corev1.RestartPolicyNever,
			SecurityContext: member.Spec.SecurityContext,
			Volumes: []corev1.Volume{
				{Name: "snaps", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}},
				{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name + "-client-tls"}}},
			},
			Containers: []corev1.Container{{
				Name: "etcdctl", Image: member.Spec.Containers[0].Image, ImagePullPolicy: corev1.PullIfNotPresent,
				SecurityContext: member.Spec.Containers[0].SecurityContext,
				Command: []string{"etcdctl", "--endpoints=https://" + name + "-client:2379",
					"--cacert=/tls/ca.crt", "--cert=/tls/tls.crt", "--key=/tls/tls.key", "snapshot", "save", "/snaps/" + file},
				VolumeMounts: []corev1.VolumeMount{{Name: "snaps", MountPath: "/snaps"}, {Name: "tls", MountPath: "/tls", ReadOnly: true}},
			}},
		}},
	}}
	Expect(k8s.Create(ctx, job)).To(Succeed())
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(job), job)).To(Succeed())
		g.Expect(job.Status.Failed).To(BeZero(), "etcdctl snapshot save failed")
		g.Expect(job.Status.Succeeded).To(BeNumerically("==", 1))
	}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
}

// expectData checks that cluster name holds exactly the n keys written
// before the snapshot, and not /after-snapshot.
func expectData(ctx context.Context, ns, name string, n int, rev int64) {
	rc := etcdClient(podEndpoints(ctx, ns, name, "https"), clientTLS(ctx, ns, name))
	got, err := rc.Get(op(ctx), "/data/", clientv3.WithPrefix())
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, got.Kvs).To(HaveLen(n))
	for i, kv := range got.Kvs {
		ExpectWithOffset(1, string(kv.Value)).To(Equal(fmt.Sprintf("v%02d", i)))
	}
	after, err := rc.Get(op(ctx), "/after-snapshot")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, after.Kvs).To(BeEmpty(), "a write made after the snapshot is not restored")
	ExpectWithOffset(1, got.Header.Revision).To(BeNumerically(">=", rev+1_000_000_000), "revision moved forward by the bump")
}

var _ = Describe("Foreign snapshots", func() {
	It("restores a plain etcdctl snapshot from a claim and from S3, into a new cluster and in place; refuses a hashless copy before any member stops", func(ctx SpecContext) {
		srv := s3test.StartWith(GinkgoTB(), s3test.Options{Host: minioHost()})
		bucket := srv.NewBucket(GinkgoTB())
		ns := newNamespace(ctx)
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: ns}, StringData: map[string]string{
			"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}})).To(Succeed())
		s3loc := etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: srv.Endpoint, Bucket: bucket, Insecure: true, CredentialsSecretName: "s3"}}
		Expect(k8s.Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1ObjectMeta(ns, "snaps"), Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		}})).To(Succeed())

		createCluster(ctx, ns, "src", 1, nil)
		before := waitAvailable(ctx, ns, "src", 1)
		cl := etcdClient(podEndpoints(ctx, ns, "src", "https"), clientTLS(ctx, ns, "src"))
		var rev int64
		for i := 0; i < 20; i++ {
			resp, err := cl.Put(op(ctx), fmt.Sprintf("/data/%02d", i), fmt.Sprintf("v%02d", i))
			Expect(err).NotTo(HaveOccurred())
			rev = resp.Header.Revision
		}

		By("etcdctl snapshot save onto a claim, and the same stream (what etcdctl writes) to S3 with a hashless copy")
		etcdctlSnapshotJob(ctx, ns, "src", "snaps", "plain.db")
		rc, err := cl.Snapshot(op(ctx))
		Expect(err).NotTo(HaveOccurred())
		plain, err := io.ReadAll(rc)
		Expect(err).NotTo(HaveOccurred())
		Expect(len(plain)%512).To(Equal(sha256.Size), "etcd appends its SHA-256")
		mc := srv.Client(GinkgoTB())
		for key, b := range map[string][]byte{"plain.db": plain, "copy.db": plain[:len(plain)-sha256.Size]} {
			_, err = mc.PutObject(ctx, bucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		_, err = cl.Put(op(ctx), "/after-snapshot", "not in the snapshot")
		Expect(err).NotTo(HaveOccurred())

		By("restoring the claim's etcdctl snapshot and the S3 one into new clusters")
		createCluster(ctx, ns, "from-claim", 1, func(c *etcdv1.EtcdCluster) {
			c.Spec.Bootstrap = &etcdv1.BootstrapSpec{Restore: &etcdv1.RestoreSpec{
				Source: &etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "snaps"}}, Key: "plain.db"}}
		})
		createCluster(ctx, ns, "from-s3", 1, func(c *etcdv1.EtcdCluster) {
			c.Spec.Bootstrap = &etcdv1.BootstrapSpec{Restore: &etcdv1.RestoreSpec{Source: &s3loc, Key: "plain.db"}}
		})
		waitAvailable(ctx, ns, "from-claim", 1)
		expectData(ctx, ns, "from-claim", 20, rev)
		waitAvailable(ctx, ns, "from-s3", 1)
		expectData(ctx, ns, "from-s3", 20, rev)

		By("refusing a hashless copy before any member stops")
		Expect(k8s.Create(ctx, &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "hashless", Namespace: ns},
			Spec: etcdv1.EtcdRestoreSpec{ClusterName: "src", Source: &s3loc, Key: "copy.db"}})).To(Succeed())
		bad := waitRestore(ctx, ns, "hashless")
		Expect(bad.Status.Phase).To(Equal(etcdv1.RestoreFailed))
		cond := meta.FindStatusCondition(bad.Status.Conditions, etcdv1.RestoreConditionFailed)
		Expect(cond).NotTo(BeNil())
		Expect(cond.Reason).To(Equal(etcdv1.ReasonVerificationFailed))
		Expect(cond.Message).To(And(ContainSubstring("no etcd hash"), ContainSubstring("skipHashCheck")))
		waitAvailable(ctx, ns, "src", 1)
		kept, err := cl.Get(op(ctx), "/after-snapshot")
		Expect(err).NotTo(HaveOccurred())
		Expect(kept.Kvs).To(HaveLen(1), "the cluster was not touched")

		By("restoring the S3 etcdctl snapshot in place")
		Expect(k8s.Create(ctx, &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: ns},
			Spec: etcdv1.EtcdRestoreSpec{ClusterName: "src", Source: &s3loc, Key: "plain.db"}})).To(Succeed())
		x := waitRestore(ctx, ns, "plain")
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreSucceeded), "%+v", x.Status)
		Expect(x.Status.SnapshotRevision).To(Equal(rev))
		Expect(x.Status.SHA256).To(Equal(fmt.Sprintf("%x", sha256.Sum256(plain))))
		Expect(x.Status.ClusterID).NotTo(Equal(before.Status.ClusterID))
		waitAvailable(ctx, ns, "src", 1)
		expectData(ctx, ns, "src", 20, rev)
	}, SpecTimeout(20*time.Minute))
})
