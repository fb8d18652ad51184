package admission

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var _ = Describe("EtcdCluster status", func() {
	// The list view's MEMBERS READY column reads .status.readyReplicas: 0 must be
	// there to show, not a blank.
	It("holds readyReplicas 0 once a status is written, and after a drop to 0", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "ready", Namespace: ns}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		readyReplicas := func() (int64, bool) {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(etcdv1.GroupVersion.WithKind("EtcdCluster"))
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), u)).To(Succeed())
			n, found, err := unstructured.NestedInt64(u.Object, "status", "readyReplicas")
			Expect(err).NotTo(HaveOccurred())
			return n, found
		}

		By("a status written without it (as by an older operator) gets the default")
		Expect(k8s.Status().Patch(ctx, c, client.RawPatch(types.MergePatchType, []byte(`{"status":{"reason":"Bootstrapping"}}`)))).To(Succeed())
		n, found := readyReplicas()
		Expect(found).To(BeTrue(), "readyReplicas defaulted")
		Expect(n).To(BeZero())

		By("a merge patch from 3 ready to 0 writes 0")
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
		before := c.DeepCopy()
		c.Status.ReadyReplicas = 3
		Expect(k8s.Status().Patch(ctx, c, client.MergeFrom(before))).To(Succeed())
		n, _ = readyReplicas()
		Expect(n).To(BeEquivalentTo(3))
		before = c.DeepCopy()
		c.Status.ReadyReplicas = 0
		Expect(k8s.Status().Patch(ctx, c, client.MergeFrom(before))).To(Succeed())
		n, found = readyReplicas()
		Expect(found).To(BeTrue(), "readyReplicas kept at 0, not removed")
		Expect(n).To(BeZero())
	})
})
