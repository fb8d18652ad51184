package admission

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var _ = Describe("switching certificate sources", func() {
	It("refuses changing the user's Secret names while a CA rotation or a switch is under way, allows it otherwise", func(ctx SpecContext) {
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{GenerateName: "sw-", Namespace: "default"}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		rotation := func(r *etcdv1.CARotationStatus) {
			fresh := &etcdv1.EtcdCluster{}
			Expect(get(ctx, c.Namespace, c.Name, fresh)()).To(Succeed())
			fresh.Status.CertificateAuthority = &etcdv1.CertificateAuthorityStatus{Rotation: r}
			Expect(k8s.Status().Update(ctx, fresh)).To(Succeed())
		}
		setSecrets := func(prefix string) error {
			fresh := &etcdv1.EtcdCluster{}
			Expect(get(ctx, c.Namespace, c.Name, fresh)()).To(Succeed())
			before := fresh.DeepCopy()
			fresh.Spec.TLS.ServerSecretName, fresh.Spec.TLS.PeerSecretName, fresh.Spec.TLS.ClientSecretName = "", "", ""
			if prefix != "" {
				fresh.Spec.TLS.ServerSecretName, fresh.Spec.TLS.PeerSecretName, fresh.Spec.TLS.ClientSecretName = prefix+"-s", prefix+"-p", prefix+"-c"
			}
			return k8s.Patch(ctx, fresh, client.MergeFrom(before))
		}
		rotation(&etcdv1.CARotationStatus{Phase: etcdv1.CARotationTrustBoth, Reason: "requested"})
		err := setSecrets("mine")
		Expect(err).To(HaveOccurred(), "a switch during a CA rotation")
		Expect(err.Error()).To(ContainSubstring("cannot change while a CA rotation or a switch of certificate sources is under way"))

		rotation(nil)
		Expect(setSecrets("mine")).To(Succeed(), "no rotation: the switch is the operator's to carry out")

		rotation(&etcdv1.CARotationStatus{Phase: etcdv1.CARotationIssueFromNew, Reason: "switch", From: etcdv1.CertificateSourceOperator, To: etcdv1.CertificateSourceSecrets})
		Expect(setSecrets("other")).NotTo(Succeed(), "other Secrets in the middle of a switch")
		Expect(setSecrets("")).NotTo(Succeed(), "back to the operator in the middle of a switch")
		Expect(setSecrets("mine")).To(Succeed(), "an update that keeps the names")
	})
})
