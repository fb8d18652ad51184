package etcdcluster

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
)

// looseCRD is a stand-in for one of cert-manager's CRDs: any spec and
// status, a status subresource. Enough to check what the operator writes
// and reads; cert-manager itself runs in the e2e test.
func looseCRD(plural, kind string, scope apiextensionsv1.ResourceScope) *apiextensionsv1.CustomResourceDefinition {
	open := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + etcdv1.CertManagerGroup},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: etcdv1.CertManagerGroup, Scope: scope,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: plural, Kind: kind},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &open}},
			}},
		},
	}
}

var _ = Describe("certificates from cert-manager", Ordered, func() {
	var (
		r *Reconciler
		c *etcdv1.EtcdCluster
		p *pass
		// crds: the stand-in CRDs, removed after the last spec.
		crds []*unstructured.Unstructured
	)
	AfterAll(func(ctx SpecContext) {
		for _, u := range crds {
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, u))).To(Succeed())
		}
	})
	BeforeAll(func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c = &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: ns}}
		c.Spec.TLS.CertManager = &etcdv1.CertManagerSpec{IssuerRef: etcdv1.CertManagerIssuerRef{Name: "ca", Kind: "Issuer", Group: etcdv1.CertManagerGroup}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		r = &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(10)}
		p = &pass{cluster: c}
	})
	stepErr := func(ctx SpecContext) error { return r.ensureCertificates(ctx, p) }

	It("without cert-manager installed: CertManagerUnavailable, no Secret", func(ctx SpecContext) {
		err := stepErr(ctx)
		var se *specError
		Expect(errors.As(err, &se)).To(BeTrue(), "%v", err)
		Expect(se.reason).To(Equal(etcdv1.ReasonCertManagerUnavailable))
		Expect(se.msg).To(SatisfyAll(ContainSubstring("is cert-manager installed?"), ContainSubstring("the members wait")))
		Expect(get(ctx, c.Namespace, c.ServerSecretName(), &corev1.Secret{})()).NotTo(Succeed(), "the operator issued a certificate itself")
	})

	It("with cert-manager's kinds but no issuer: the Certificates exist, owned by the cluster, and the issuer is named", func(ctx SpecContext) {
		for _, crd := range []*apiextensionsv1.CustomResourceDefinition{
			looseCRD("certificates", "Certificate", apiextensionsv1.NamespaceScoped),
			looseCRD("issuers", "Issuer", apiextensionsv1.NamespaceScoped),
			looseCRD("clusterissuers", "ClusterIssuer", apiextensionsv1.ClusterScoped),
		} {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
			Expect(err).NotTo(HaveOccurred())
			u := &unstructured.Unstructured{Object: m}
			u.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
			Expect(k8s.Create(ctx, u)).To(Succeed())
			crds = append(crds, u)
		}
		var err error
		Eventually(func() error { err = stepErr(ctx); return err }).WithContext(ctx).WithTimeout(30 * time.Second).
			Should(MatchError(ContainSubstring("Issuer ca not found in namespace " + c.Namespace)))
		var se *specError
		Expect(errors.As(err, &se)).To(BeTrue())
		Expect(se.reason).To(Equal(etcdv1.ReasonCertificateIssuerNotReady))
		Expect(se.msg).To(ContainSubstring("the members wait for them"))
		for _, name := range []string{c.ServerSecretName(), c.PeerSecretName(), c.ClientSecretName()} {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(certificateGVK)
			Expect(get(ctx, c.Namespace, name, u)()).To(Succeed())
			Expect(metav1.IsControlledBy(u, c)).To(BeTrue(), "Certificate %s not owned by the cluster", name)
			secretName, _, _ := unstructured.NestedString(u.Object, "spec", "secretName")
			Expect(secretName).To(Equal(name))
		}
	})

	It("an issuer Ready, Certificates issuing: a planned wait (CertificatePending) naming the missing Secrets", func(ctx SpecContext) {
		issuer := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"ca": map[string]any{"secretName": "x"}}}}
		issuer.SetAPIVersion("cert-manager.io/v1")
		issuer.SetKind("Issuer")
		issuer.SetNamespace(c.Namespace)
		issuer.SetName("ca")
		Expect(k8s.Create(ctx, issuer)).To(Succeed())
		Expect(unstructured.SetNestedSlice(issuer.Object, []any{map[string]any{"type": "Ready", "status": "True", "reason": "KeyPairVerified", "message": "Signing CA verified"}}, "status", "conditions")).To(Succeed())
		Expect(k8s.Status().Update(ctx, issuer)).To(Succeed())

		err := stepErr(ctx)
		var we *waitError
		Expect(errors.As(err, &we)).To(BeTrue(), "%v", err)
		Expect(we.reason).To(Equal(etcdv1.ReasonCertificatePending))
		Expect(we.msg).To(SatisfyAll(ContainSubstring("Secret cm-server-tls not found"), ContainSubstring("the members start once it has")))
	})

	It("once cert-manager wrote the Secrets: the step passes, the Secrets get an owner reference, and a failing renewal is Degraded without stopping the pass", func(ctx SpecContext) {
		ca, err := pki.NewCA("envtest CA", time.Now(), time.Hour)
		Expect(err).NotTo(HaveOccurred())
		for _, name := range []string{c.ServerSecretName(), c.PeerSecretName(), c.ClientSecretName()} {
			Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace}, Type: corev1.SecretTypeTLS,
				Data: map[string][]byte{corev1.TLSCertKey: ca.CertPEM, corev1.TLSPrivateKeyKey: ca.KeyPEM, keyCACert: ca.CertPEM}})).To(Succeed())
		}
		Expect(stepErr(ctx)).To(Succeed())
		Expect(p.certIssuance).To(BeNil())
		s := &corev1.Secret{}
		Expect(get(ctx, c.Namespace, c.PeerSecretName(), s)()).To(Succeed())
		Expect(s.OwnerReferences).To(ContainElement(HaveField("UID", c.UID)))

		By("a Certificate failing: reported, not blocking")
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(certificateGVK)
		Expect(get(ctx, c.Namespace, c.ServerSecretName(), u)()).To(Succeed())
		Expect(unstructured.SetNestedSlice(u.Object, []any{
			map[string]any{"type": "Ready", "status": "False", "reason": "Expired", "message": "Certificate expired"},
			map[string]any{"type": "Issuing", "status": "False", "reason": "Failed", "message": "The certificate request has failed to complete and will be retried: boom"},
		}, "status", "conditions")).To(Succeed())
		Expect(k8s.Status().Update(ctx, u)).To(Succeed())
		Expect(stepErr(ctx)).To(Succeed())
		Expect(p.certIssuance).NotTo(BeNil())
		Expect(p.certIssuance.reason).To(Equal(etcdv1.ReasonCertificateNotReady))
		Expect(p.certIssuance.msg).To(SatisfyAll(ContainSubstring("Certificate cm-server-tls: The certificate request has failed"),
			ContainSubstring("the members keep the certificates they have")))
		Expect(degradation(c, p, podProblems{}, nil)).To(Equal(yes(etcdv1.ReasonCertificateNotReady, p.certIssuance.msg)))

		By("renewed again: the report goes")
		Expect(unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Ready", "status": "True", "reason": "Ready", "message": "up to date"}},
			"status", "conditions")).To(Succeed())
		Expect(k8s.Status().Update(ctx, u)).To(Succeed())
		Expect(stepErr(ctx)).To(Succeed())
		Expect(p.certIssuance).To(BeNil())
	})
})
