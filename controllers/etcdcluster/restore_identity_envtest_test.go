package etcdcluster

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// A restore from a bucket reached by web identity runs the members as the
// location's ServiceAccount: while the restore is carried out, a missing
// one stops the pass before the members, with a clear cause.
var _ = Describe("the ServiceAccount of a restore's S3 location", func() {
	webIdentity := etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt",
		WebIdentity: &etcdv1.S3WebIdentity{ServiceAccountName: "restore-sa"}}}
	newCluster := func(ns string) *etcdv1.EtcdCluster {
		return &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3),
			Bootstrap: &etcdv1.BootstrapSpec{Restore: &etcdv1.RestoreSpec{Key: "snap.db", Source: &webIdentity}}}}
	}
	r := func() *Reconciler { return &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme()} }

	It("holds a new cluster's members back, Degraded with ServiceAccountMissing, until it exists", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		p := &pass{cluster: newCluster(ns)}
		err := r().resolveRestore(ctx, p)
		var se *specError
		Expect(errors.As(err, &se)).To(BeTrue(), "a spec error (Degraded, looked at again in requeueSpecError): %v", err)
		Expect(se.reason).To(Equal(etcdv1.ReasonServiceAccountMissing))
		Expect(se.msg).To(SatisfyAll(
			ContainSubstring("ServiceAccount restore-sa (s3.webIdentity.serviceAccountName) not found in namespace "+ns),
			ContainSubstring("system:serviceaccount:"+ns+":restore-sa"),
			ContainSubstring("no member is started or stopped for the restore until it exists (checked again every 30s)")))

		Expect(k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "restore-sa", Namespace: ns}})).To(Succeed())
		p = &pass{cluster: newCluster(ns)}
		Expect(r().resolveRestore(ctx, p)).To(Succeed())
		Expect(p.restore).NotTo(BeNil())
		Expect(p.restore.Location.S3.WebIdentity.ServiceAccountName).To(Equal("restore-sa"))
	})

	It("does not hold back a cluster that has formed (the init container stays, a no-op)", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		p := &pass{cluster: newCluster(ns), boot: render.Bootstrap{State: render.StateExisting}}
		Expect(r().resolveRestore(ctx, p)).To(Succeed())
		Expect(p.restore).NotTo(BeNil())
	})
})
