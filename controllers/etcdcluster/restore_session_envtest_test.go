package etcdcluster

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// A bootstrap restore from a bucket with temporary keys passes their
// session token to the members' restore init container; one with
// long-lived keys leaves its template as operator versions before session
// tokens rendered it.
var _ = Describe("the session token of a restore's S3 credentials", func() {
	It("is passed to the restore init container only when the credentials Secret holds one", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3),
			Bootstrap: &etcdv1.BootstrapSpec{Restore: &etcdv1.RestoreSpec{Key: "snap.db",
				Source: &etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", CredentialsSecretName: "creds"}}}}}}
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme()}
		resolve := func() *render.RestoreSource {
			GinkgoHelper()
			p := &pass{cluster: c}
			Expect(r.resolveRestore(ctx, p)).To(Succeed())
			Expect(p.restore).NotTo(BeNil())
			return p.restore
		}
		Expect(resolve().SessionToken).To(BeFalse(), "no Secret yet")
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns},
			Data: map[string][]byte{render.S3AccessKeyIDKey: []byte("a"), render.S3SecretAccessKeyKey: []byte("s")}}
		Expect(k8s.Create(ctx, sec)).To(Succeed())
		Expect(resolve().SessionToken).To(BeFalse(), "long-lived keys")
		sec.Data[render.S3SessionTokenKey] = []byte("t")
		Expect(k8s.Update(ctx, sec)).To(Succeed())
		Expect(resolve().SessionToken).To(BeTrue(), "temporary keys")
	})
})
