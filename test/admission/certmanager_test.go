package admission

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Issue #15 item 3: spec.tls.certManager. It excludes the user's Secret
// names, needs TLS, takes cert-manager's issuer kinds, defaults the kind
// and group, and neither it nor its issuer changes on a running cluster.
var _ = Describe("tls.certManager", func() {
	cluster := func(tls map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": etcdv1.GroupVersion.String(), "kind": "EtcdCluster",
			"metadata": map[string]any{"generateName": "cm-", "namespace": "default"},
			"spec":     map[string]any{"tls": tls}}}
	}
	issuer := func(kv ...string) map[string]any {
		ref := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			ref[kv[i]] = kv[i+1]
		}
		return map[string]any{"issuerRef": ref}
	}

	DescribeTable("refuses",
		func(ctx SpecContext, tls map[string]any, messages ...string) {
			err := k8s.Create(ctx, cluster(tls))
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "not a validation error: %v", err)
			for _, m := range messages {
				Expect(err.Error()).To(ContainSubstring(m))
			}
		},
		Entry("with the user's Secrets", map[string]any{"certManager": issuer("name", "ca"),
			"serverSecretName": "s", "peerSecretName": "p", "clientSecretName": "c"},
			"spec.tls.certManager", "tls.certManager and serverSecretName/peerSecretName/clientSecretName are exclusive"),
		Entry("without TLS", map[string]any{"enabled": false, "certManager": issuer("name", "ca")},
			"spec.tls.certManager", "tls.certManager needs tls.enabled"),
		Entry("no issuer name", map[string]any{"certManager": issuer("kind", "Issuer")}, "spec.tls.certManager.issuerRef.name", "Required value"),
		Entry("a kind cert-manager.io does not have", map[string]any{"certManager": issuer("name", "ca", "kind", "Certificate")},
			"tls.certManager.issuerRef.kind must be Issuer or ClusterIssuer"),
	)

	DescribeTable("accepts",
		func(ctx SpecContext, tls map[string]any, kind, group string) {
			u := cluster(tls)
			Expect(k8s.Create(ctx, u)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, u))).To(Succeed()) })
			c := &etcdv1.EtcdCluster{}
			Expect(get(ctx, "default", u.GetName(), c)()).To(Succeed())
			Expect(c.CertManagerCertificates()).To(BeTrue())
			Expect(c.UserCertificates()).To(BeTrue(), "the operator holds no CA key")
			Expect(c.Spec.TLS.CertManager.IssuerRef.Kind).To(Equal(kind))
			Expect(c.Spec.TLS.CertManager.IssuerRef.Group).To(Equal(group))
		},
		Entry("an Issuer by name: kind and group defaulted", map[string]any{"certManager": issuer("name", "ca")}, "Issuer", "cert-manager.io"),
		Entry("a ClusterIssuer, with extraSANs", map[string]any{"certManager": issuer("name", "ca", "kind", "ClusterIssuer"),
			"extraSANs": []any{"etcd.example.com"}}, "ClusterIssuer", "cert-manager.io"),
		Entry("an external issuer", map[string]any{"certManager": issuer("name", "pca", "kind", "AWSPCAClusterIssuer", "group", "awspca.cert-manager.io")},
			"AWSPCAClusterIssuer", "awspca.cert-manager.io"),
	)

	It("keeps the certificate source and the issuer of a running cluster", func(ctx SpecContext) {
		u := cluster(map[string]any{"certManager": issuer("name", "ca")})
		Expect(k8s.Create(ctx, u)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, u))).To(Succeed()) })

		c := &etcdv1.EtcdCluster{}
		Expect(get(ctx, "default", u.GetName(), c)()).To(Succeed())
		c.Spec.TLS.CertManager.IssuerRef.Name = "other"
		err := k8s.Update(ctx, c)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("tls.certManager.issuerRef cannot change on a running cluster"))

		Expect(get(ctx, "default", u.GetName(), c)()).To(Succeed())
		c.Spec.TLS.CertManager = nil
		err = k8s.Update(ctx, c)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("tls.certManager is chosen when the cluster is created"))

		plain := cluster(map[string]any{})
		Expect(k8s.Create(ctx, plain)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, plain))).To(Succeed()) })
		Expect(get(ctx, "default", plain.GetName(), c)()).To(Succeed())
		c.Spec.TLS.CertManager = &etcdv1.CertManagerSpec{IssuerRef: etcdv1.CertManagerIssuerRef{Name: "ca"}}
		err = k8s.Update(ctx, c)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("tls.certManager is chosen when the cluster is created"))
	})
})
