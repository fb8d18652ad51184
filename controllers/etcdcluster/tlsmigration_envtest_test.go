package etcdcluster

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// laggingCache is a cache that has not seen any StatefulSet yet, as an
// informer under load moments after one was created.
type laggingCache struct{ client.Client }

func (l laggingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*appsv1.StatefulSet); ok {
		return apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, key.Name)
	}
	return l.Client.Get(ctx, key, obj, opts...)
}

var _ = Describe("TLS turned on while the cache lags behind a new StatefulSet", func() {
	It("starts a migration from the StatefulSet the API server holds, never renders https at once", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "early", Namespace: ns},
			Spec: etcdv1.EtcdClusterSpec{TLS: etcdv1.TLSSpec{Enabled: ptr.To(true)}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		labels := map[string]string{etcdv1.LabelInstance: c.Name}
		sts := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: c.StatefulSetName(), Namespace: ns},
			Spec: appsv1.StatefulSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					// Members that serve http: no server TLS directory.
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: render.ContainerName, Image: "etcd"}}},
				},
			},
		}
		Expect(k8s.Create(ctx, sts)).To(Succeed())

		r := &Reconciler{Client: laggingCache{k8s}, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(10)}
		Expect(r.resumeTLSMigration(ctx, &pass{cluster: c})).To(Succeed())
		Expect(c.Status.TLSMigration).NotTo(BeNil(), "a running http cluster is migrated, not taken for a new one")
		Expect(c.Status.TLSMigration.Phase).To(Equal(etcdv1.TLSMigrationListenHTTPS))

		By("without a StatefulSet anywhere, the cluster is new: no migration")
		Expect(k8s.Delete(ctx, sts)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(sts), &appsv1.StatefulSet{}))
		}).Should(BeTrue())
		fresh := &etcdv1.EtcdCluster{ObjectMeta: c.ObjectMeta, Spec: c.Spec}
		Expect(r.resumeTLSMigration(ctx, &pass{cluster: fresh})).To(Succeed())
		Expect(fresh.Status.TLSMigration).To(BeNil())
	})
})
