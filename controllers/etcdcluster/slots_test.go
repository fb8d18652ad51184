package etcdcluster

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var _ = Describe("growing the StatefulSet", func() {
	It("waits while a claim of a new slot is still being deleted", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "grow", Namespace: ns}}
		r := &Reconciler{Client: k8s, Scheme: k8s.Scheme()}
		reason, err := r.slotsStillFreeing(ctx, c, 1, 3)
		Expect(err).NotTo(HaveOccurred())
		Expect(reason).To(BeEmpty())

		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: c.MemberClaimName(2), Namespace: ns, Finalizers: []string{"test/hold"}},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
		Expect(k8s.Create(ctx, pvc)).To(Succeed())
		Expect(k8s.Delete(ctx, pvc)).To(Succeed())
		reason, err = r.slotsStillFreeing(ctx, c, 1, 3)
		Expect(err).NotTo(HaveOccurred())
		Expect(reason).To(Equal("volume claim data-grow-2 is still being deleted"))
		reason, err = r.slotsStillFreeing(ctx, c, 1, 2)
		Expect(err).NotTo(HaveOccurred())
		Expect(reason).To(BeEmpty(), "slot 2 is not part of growing to 2")

		Expect(get(ctx, ns, pvc.Name, pvc)()).To(Succeed())
		pvc.Finalizers = nil
		Expect(k8s.Update(ctx, pvc)).To(Succeed())
	})
})
