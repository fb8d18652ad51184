package etcdcluster

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// countingClient counts server-side applies.
type countingClient struct {
	client.Client
	applies int
}

func (c *countingClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	c.applies++
	return c.Client.Apply(ctx, obj, opts...)
}

var _ = Describe("apply", func() {
	It("skips an object whose rendering and live version are as last applied", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "idle", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		cc := &countingClient{Client: k8s}
		r := &Reconciler{Client: cc, Scheme: k8s.Scheme()}
		cm := func() *corev1.ConfigMap {
			return render.ConfigMap(c, render.Options{}, render.Bootstrap{State: render.StateNew, InitialCluster: "x=http://x:2380"}, "")
		}
		Expect(r.apply(ctx, c, cm())).To(Succeed())
		Expect(r.apply(ctx, c, cm())).To(Succeed())
		Expect(cc.applies).To(Equal(1), "the second, identical apply is skipped")

		By("applying again after someone else changed the object")
		live := &corev1.ConfigMap{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.ConfigMapName()}, live)).To(Succeed())
		live.Data[render.ConfigKeyInitialState] = "tampered"
		Expect(k8s.Update(ctx, live)).To(Succeed())
		Expect(r.apply(ctx, c, cm())).To(Succeed())
		Expect(cc.applies).To(Equal(2))
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.ConfigMapName()}, live)).To(Succeed())
		Expect(live.Data[render.ConfigKeyInitialState]).To(Equal(render.StateNew), "the drift was undone")

		By("applying again when the rendering changes")
		changed := render.ConfigMap(c, render.Options{}, render.Bootstrap{State: render.StateExisting, InitialCluster: "x=http://x:2380"}, "")
		Expect(r.apply(ctx, c, changed)).To(Succeed())
		Expect(cc.applies).To(Equal(3))
		Expect(r.apply(ctx, c, changed)).To(Succeed())
		Expect(cc.applies).To(Equal(3))
	})
})
