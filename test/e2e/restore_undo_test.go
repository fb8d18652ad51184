//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/minio/minio-go/v7"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
)

// getObject reads a whole object of the test bucket.
func getObject(ctx context.Context, mc *minio.Client, bucket, key string) []byte {
	obj, err := mc.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	b, err := io.ReadAll(obj)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return b
}

func putObject(ctx context.Context, mc *minio.Client, bucket, key string, b []byte) {
	_, err := mc.PutObject(ctx, bucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
}

// newerStorageVersion turns a Quorum backup (object and manifest) into a
// snapshot whose bbolt database records storage version 3.99.0, with
// etcd's appended hash and a forged manifest that matches it (size,
// checksum, no compression) and hides the storage version: only reading
// the snapshot itself, as a member's restore does, finds it newer than the
// server's etcd.
func newerStorageVersion(obj, manifest []byte) ([]byte, []byte) {
	m := map[string]any{}
	Expect(json.Unmarshal(manifest, &m)).To(Succeed())
	raw := obj
	switch m["compression"] {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(obj))
		Expect(err).NotTo(HaveOccurred())
		raw, err = io.ReadAll(zr)
		Expect(err).NotTo(HaveOccurred())
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(obj))
		Expect(err).NotTo(HaveOccurred())
		raw, err = io.ReadAll(zr)
		zr.Close()
		Expect(err).NotTo(HaveOccurred())
	}
	path := filepath.Join(GinkgoT().TempDir(), "snap.db")
	Expect(os.WriteFile(path, raw[:len(raw)-sha256.Size], 0o600)).To(Succeed())
	db, err := bolt.Open(path, 0o600, nil)
	Expect(err).NotTo(HaveOccurred())
	Expect(db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("storageVersion"), []byte("3.99.0"))
	})).To(Succeed())
	Expect(db.Close()).To(Succeed())
	body, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	sum := sha256.Sum256(body)
	forged := append(body, sum[:]...)
	whole := sha256.Sum256(forged)
	m["sha256"], m["size"], m["storedSize"], m["compression"] = hex.EncodeToString(whole[:]), len(forged), len(forged), "none"
	delete(m, "storageVersion")
	out, err := json.Marshal(m)
	Expect(err).NotTo(HaveOccurred())
	return forged, out
}

var _ = Describe("In-place restore that fails on the members", func() {
	It("refuses a newer storage version at verification, and puts every member back on its old data when the members' restore fails", func(ctx SpecContext) {
		srv := s3test.StartWith(GinkgoTB(), s3test.Options{Host: minioHost()})
		bucket := srv.NewBucket(GinkgoTB())
		mc := srv.Client(GinkgoTB())
		ns := newNamespace(ctx)
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: ns}, StringData: map[string]string{
			"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}})).To(Succeed())
		loc := etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: srv.Endpoint, Bucket: bucket, Insecure: true, CredentialsSecretName: "s3"}}

		createCluster(ctx, ns, "rb", 3, nil)
		before := waitAvailable(ctx, ns, "rb", 3)
		cl := etcdClient(podEndpoints(ctx, ns, "rb", "https"), clientTLS(ctx, ns, "rb"))
		for i := 0; i < 20; i++ {
			_, err := cl.Put(op(ctx), fmt.Sprintf("/data/%02d", i), fmt.Sprintf("v%02d", i))
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(k8s.Create(ctx, &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: ns},
			Spec: etcdv1.EtcdBackupSpec{ClusterName: "rb", Destination: loc}})).To(Succeed())
		good := waitBackup(ctx, ns, "good")
		Expect(good.Status.Phase).To(Equal(etcdv1.BackupSucceeded), "%+v", good.Status)
		_, err := cl.Put(op(ctx), "/after-backup", "kept")
		Expect(err).NotTo(HaveOccurred())
		// Another valid backup, with other data, to swap in after verification.
		Expect(k8s.Create(ctx, &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: ns},
			Spec: etcdv1.EtcdBackupSpec{ClusterName: "rb", Destination: loc}})).To(Succeed())
		other := waitBackup(ctx, ns, "other")
		Expect(other.Status.Phase).To(Equal(etcdv1.BackupSucceeded), "%+v", other.Status)
		podUIDs := func() map[string]string {
			pods := &corev1.PodList{}
			Expect(k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{etcdv1.LabelInstance: "rb", etcdv1.LabelName: etcdv1.NameValue})).To(Succeed())
			out := map[string]string{}
			for _, p := range pods.Items {
				out[p.Name] = string(p.UID)
			}
			return out
		}
		uids := podUIDs()
		Expect(uids).To(HaveLen(3))

		By("refusing a snapshot of a newer storage version with a forged manifest at verification, before any member stops")
		obj, manifest := newerStorageVersion(getObject(ctx, mc, bucket, good.Status.Key), getObject(ctx, mc, bucket, good.Status.Key+".manifest.json"))
		putObject(ctx, mc, bucket, "newer.db", obj)
		putObject(ctx, mc, bucket, "newer.db.manifest.json", manifest)
		Expect(k8s.Create(ctx, &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "newer", Namespace: ns},
			Spec: etcdv1.EtcdRestoreSpec{ClusterName: "rb", Source: &loc, Key: "newer.db"}})).To(Succeed())
		newer := waitRestore(ctx, ns, "newer")
		Expect(newer.Status.Phase).To(Equal(etcdv1.RestoreFailed))
		cond := meta.FindStatusCondition(newer.Status.Conditions, etcdv1.RestoreConditionFailed)
		Expect(cond).NotTo(BeNil())
		Expect(cond.Reason).To(Equal(etcdv1.ReasonVerificationFailed), cond.Message)
		Expect(cond.Message).To(ContainSubstring("storage version 3.99.0"))
		Expect(podUIDs()).To(Equal(uids), "no member was stopped")

		By("undoing a restore whose snapshot is replaced by another valid one once verified: each member refuses what was not verified, after they were stopped")
		for _, suffix := range []string{"", ".manifest.json"} {
			putObject(ctx, mc, bucket, "doomed.db"+suffix, getObject(ctx, mc, bucket, good.Status.Key+suffix))
		}
		Expect(k8s.Create(ctx, &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "doomed", Namespace: ns},
			Spec: etcdv1.EtcdRestoreSpec{ClusterName: "rb", Source: &loc, Key: "doomed.db"}})).To(Succeed())
		Eventually(func(g Gomega) {
			x := &etcdv1.EtcdRestore{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "doomed"}, x)).To(Succeed())
			g.Expect(x.Status.Phase).To(Equal(etcdv1.RestoreRestoring), "%+v", x.Status)
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(100 * time.Millisecond).Should(Succeed())
		for _, suffix := range []string{"", ".manifest.json"} {
			putObject(ctx, mc, bucket, "doomed.db"+suffix, getObject(ctx, mc, bucket, other.Status.Key+suffix))
		}

		x := waitRestore(ctx, ns, "doomed")
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreFailed), "%+v", x.Status)
		cond = meta.FindStatusCondition(x.Status.Conditions, etcdv1.RestoreConditionFailed)
		Expect(cond).NotTo(BeNil())
		Expect(cond.Reason).To(Equal(etcdv1.ReasonRolledBack), cond.Message)
		Expect(cond.Message).To(And(ContainSubstring("restore init container of rb-"), ContainSubstring("not the one that was verified"),
			ContainSubstring("put back on its data from before the restore")))

		By("the cluster is Available again with its old data, every member up, same cluster ID")
		c := waitAvailable(ctx, ns, "rb", 3)
		Expect(c.Status.ClusterID).To(Equal(before.Status.ClusterID), "the old cluster, not the snapshot's")
		Expect(c.Status.Restore).NotTo(BeNil())
		Expect(c.Status.Restore.RolledBack).To(BeTrue())
		Expect(c.Status.Restore.Done).To(BeFalse())
		Expect(c.Status.ReadyReplicas).To(BeNumerically("==", 3), "no member was left down")
		rc := etcdClient(podEndpoints(ctx, ns, "rb", "https"), clientTLS(ctx, ns, "rb"))
		got, err := rc.Get(op(ctx), "/data/", clientv3.WithPrefix())
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Kvs).To(HaveLen(20))
		for i, kv := range got.Kvs {
			Expect(string(kv.Value)).To(Equal(fmt.Sprintf("v%02d", i)))
		}
		after, err := rc.Get(op(ctx), "/after-backup")
		Expect(err).NotTo(HaveOccurred())
		Expect(after.Kvs).To(HaveLen(1), "a write made after the backup is still there: the old data, not the snapshot")
		Expect(string(after.Kvs[0].Value)).To(Equal("kept"))
		_, err = rc.Put(op(ctx), "/after-undo", "x")
		Expect(err).NotTo(HaveOccurred(), "the cluster takes writes")

		By("events on both objects")
		evs := &eventsv1.EventList{}
		Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
		Expect(evs.Items).To(ContainElement(And(HaveField("Reason", "RestoreRolledBack"), HaveField("Regarding.Name", "rb"))))
		Expect(evs.Items).To(ContainElement(And(HaveField("Reason", "RestoreFailed"), HaveField("Regarding.Name", "doomed"))))
	}, SpecTimeout(20*time.Minute))
})
