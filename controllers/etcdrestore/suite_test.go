package etcdrestore

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"

	"quorum.dev/etcd-operator/controllers/internal/testenv"
	"quorum.dev/etcd-operator/controllers/render"
)

// Tests of the reconciler's own passes against a real API server, called
// one at a time; the black-box tests of the running reconciler are in
// package controllers.

// k8s is the test API server's client (no cache).
var k8s client.Client

func TestEtcdRestore(t *testing.T) {
	testenv.RunSuite(t, "EtcdRestore reconciler suite", &k8s)
}

// createS3Restore creates EtcdRestore r of EtcdCluster db (created too) from
// a snapshot in S3, in a new namespace.
func createS3Restore(ctx context.Context) *etcdv1.EtcdRestore {
	GinkgoHelper()
	ns, err := testenv.NewNamespace(ctx, k8s)
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Create(ctx, &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}})).To(Succeed())
	x := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: ns}, Spec: etcdv1.EtcdRestoreSpec{ClusterName: "db", Key: "ns/db/snap.db",
		Source: &etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", CredentialsSecretName: "creds"}}}}
	Expect(k8s.Create(ctx, x)).To(Succeed())
	return x
}

// newReconciler is the reconciler under test: it reads through cache,
// and from the API server where it must.
func newReconciler(cache client.Client, rec events.EventRecorder) *Reconciler {
	return &Reconciler{Client: cache, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: rec, Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}}
}
