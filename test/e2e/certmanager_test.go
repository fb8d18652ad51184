//go:build e2e

package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// cmObject is a cert-manager object (cert-manager.io/v1) as unstructured:
// the test, like the operator, does not link cert-manager's Go module.
func cmObject(kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion("cert-manager.io/v1")
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// cmCondition is the status of a cert-manager object's condition, "" when
// absent.
func cmCondition(ctx context.Context, u *unstructured.Unstructured, typ string) string {
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
		return ""
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, raw := range conds {
		if m, ok := raw.(map[string]any); ok && m["type"] == typ {
			return fmt.Sprint(m["status"])
		}
	}
	return ""
}

// triggerIssuance asks cert-manager to re-issue a Certificate the way
// `cmctl renew` does: the Issuing condition set True with reason
// ManuallyTriggered, in the status.
func triggerIssuance(ctx context.Context, ns, name string) {
	GinkgoHelper()
	Eventually(func() error {
		u := cmObject("Certificate", ns, name, nil)
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		conds = append(conds, map[string]any{
			"type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
			"message": "Certificate re-issuance manually triggered", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		})
		if err := unstructured.SetNestedSlice(u.Object, conds, "status", "conditions"); err != nil {
			return err
		}
		return k8s.Status().Update(ctx, u)
	}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
}

var _ = Describe("cert-manager", func() {
	It("issues the certificates from a CA Issuer; members wait for them and serve renewals without a restart or a lost write", func(ctx SpecContext) {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "certificates.cert-manager.io"}, crd)).To(Succeed(),
			"cert-manager is not installed: hack/e2e.sh installs it (hack/cert-manager.sh install)")
		ns := newNamespace(ctx)

		By("creating the cluster before its issuer: it reports the missing issuer and starts no member")
		createCluster(ctx, ns, "cm", 3, func(c *etcdv1.EtcdCluster) {
			c.Spec.TLS.CertManager = &etcdv1.CertManagerSpec{IssuerRef: etcdv1.CertManagerIssuerRef{Name: "etcd-ca", Kind: "Issuer"}}
		})
		Eventually(func(g Gomega) {
			c := &etcdv1.EtcdCluster{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cm"}, c)).To(Succeed())
			d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.Reason).To(Equal(etcdv1.ReasonCertificateIssuerNotReady))
			g.Expect(d.Message).To(ContainSubstring("Issuer etcd-ca not found"))
			g.Expect(d.Message).To(ContainSubstring("the members wait"))
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cm"}, &appsv1.StatefulSet{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "StatefulSet made before the certificates exist: %v", err)
		server := cmObject("Certificate", ns, "cm-server-tls", nil)
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(server), server)).To(Succeed())
		Expect(server.GetOwnerReferences()).To(ContainElement(HaveField("Kind", "EtcdCluster")))

		By("creating a self-signed ClusterIssuer, a CA Certificate and a CA Issuer")
		selfSigned := cmObject("ClusterIssuer", "", "e2e-selfsigned-"+ns, map[string]any{"selfSigned": map[string]any{}})
		Expect(k8s.Create(ctx, selfSigned)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, selfSigned))).To(Succeed()) })
		Expect(k8s.Create(ctx, cmObject("Certificate", ns, "etcd-ca", map[string]any{
			"isCA": true, "commonName": "e2e etcd CA", "secretName": "etcd-ca",
			"privateKey": map[string]any{"algorithm": "ECDSA", "size": int64(256)},
			"issuerRef":  map[string]any{"name": selfSigned.GetName(), "kind": "ClusterIssuer", "group": "cert-manager.io"},
		}))).To(Succeed())
		Expect(k8s.Create(ctx, cmObject("Issuer", ns, "etcd-ca", map[string]any{"ca": map[string]any{"secretName": "etcd-ca"}}))).To(Succeed())

		waitAvailable(ctx, ns, "cm", 3)

		By("a client with cert-manager's root client Secret puts and gets, verifying the members against its ca.crt")
		caSecret := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "etcd-ca"}, caSecret)).To(Succeed())
		clientSecret := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cm-client-tls"}, clientSecret)).To(Succeed())
		Expect(clientSecret.Data["ca.crt"]).To(Equal(caSecret.Data["tls.crt"]), "ca.crt is not the CA Issuer's certificate")
		Expect(clientSecret.OwnerReferences).To(ContainElement(HaveField("Kind", "EtcdCluster")))
		block, _ := pem.Decode(clientSecret.Data["tls.crt"])
		Expect(block).NotTo(BeNil())
		leaf, err := x509.ParseCertificate(block.Bytes)
		Expect(err).NotTo(HaveOccurred())
		Expect(leaf.Subject.CommonName).To(Equal("root"))
		tlsCfg := clientTLS(ctx, ns, "cm") // cm-client-tls: tls.crt, tls.key, ca.crt
		eps := podEndpoints(ctx, ns, "cm", "https")
		cli := etcdClient(eps, tlsCfg)
		_, err = cli.Put(op(ctx), "/cm/hello", "world")
		Expect(err).NotTo(HaveOccurred())
		got, err := cli.Get(op(ctx), "/cm/hello")
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Kvs).To(HaveLen(1))
		Expect(string(got.Kvs[0].Value)).To(Equal("world"))

		before := map[string]string{}
		for _, ep := range eps {
			s, err := servedSerial(ep, tlsCfg)
			Expect(err).NotTo(HaveOccurred())
			before[ep] = s
		}
		pods := &corev1.PodList{}
		Expect(k8s.List(ctx, pods, clientInNamespace(ns), client.MatchingLabels{etcdv1.LabelInstance: "cm"})).To(Succeed())
		Expect(pods.Items).To(HaveLen(3))
		uids := map[string]types.UID{}
		for _, p := range pods.Items {
			uids[p.Name] = p.UID
		}
		w := startWriter(ctx, cli)

		By("renewing the server and peer certificates the way `cmctl renew` does (Issuing=True, ManuallyTriggered)")
		for _, name := range []string{"cm-server-tls", "cm-peer-tls"} {
			triggerIssuance(ctx, ns, name)
		}
		By("waiting until every member presents a new certificate")
		waitNewSerials(ctx, eps, tlsCfg, before)
		Eventually(func() string { return cmCondition(ctx, cmObject("Certificate", ns, "cm-peer-tls", nil), "Issuing") }).
			WithContext(ctx).WithTimeout(time.Minute).Should(BeEmpty(), "peer certificate still issuing")
		time.Sleep(5 * time.Second) // a few more writes on the new certificates
		acked, failed := w.finish()
		GinkgoWriter.Printf("writes acknowledged %d, failed %d, largest gap %v\n", len(acked), failed, w.maxGap)
		Expect(failed).To(BeZero())
		Expect(acked).NotTo(BeEmpty())

		By("checking the same pods run, none restarted, and every acknowledged write is there")
		after := &corev1.PodList{}
		Expect(k8s.List(ctx, after, clientInNamespace(ns), client.MatchingLabels{etcdv1.LabelInstance: "cm"})).To(Succeed())
		Expect(after.Items).To(HaveLen(3))
		for _, p := range after.Items {
			Expect(p.UID).To(Equal(uids[p.Name]), "pod %s was replaced", p.Name)
			for _, cs := range p.Status.ContainerStatuses {
				Expect(cs.RestartCount).To(BeZero(), p.Name)
			}
		}
		expectAllWritten(ctx, etcdClient(eps, clientTLS(ctx, ns, "cm")), acked)
		c := &etcdv1.EtcdCluster{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cm"}, c)).To(Succeed())
		Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionDegraded)).To(BeFalse(), "conditions: %+v", c.Status.Conditions)
	}, SpecTimeout(10*time.Minute))
})
