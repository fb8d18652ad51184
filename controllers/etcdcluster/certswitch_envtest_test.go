package etcdcluster

import (
	"crypto/x509"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/pki"
	"quorum.dev/etcd-operator/controllers/render"
)

// The certificates and certificate switch steps against a real API
// server, with the test doing the StatefulSet controller's part (every
// template rolled out at once) and etcd's (every member healthy, unless a
// pass says otherwise): the phases of a switch to the user's Secrets and
// back, each read from what the Secrets and the template hold.
var _ = Describe("switching certificate sources", func() {
	It("goes operator CA → user Secrets → operator CA through TrustBoth, IssueFromNew and DropOld, refusing while the Secrets are missing", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "sw", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(100),
			Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}}
		healthy := observation{contacted: true, voters: 3, leader: 1, statuses: map[uint64]etcdclient.Status{}}
		for i := uint64(1); i <= 3; i++ {
			healthy.list = append(healthy.list, etcdclient.Member{ID: i})
			healthy.statuses[i] = etcdclient.Status{MemberID: i}
			healthy.members = append(healthy.members, etcdv1.MemberStatus{Name: fmt.Sprintf("sw-%d", i-1), Healthy: true, Role: etcdv1.RoleFollower})
		}
		sts := &appsv1.StatefulSet{}
		// run is one pass of the steps involved: certificates, the
		// template applied and rolled out, the CA rotation and the switch
		// steps with the members as obs says; the status is written back.
		run := func(obs observation) *pass {
			GinkgoHelper()
			Expect(get(ctx, ns, "sw", c)()).To(Succeed())
			p := &pass{cluster: c}
			p.revision.Apply = render.Revision{Image: "quorum.dev/etcd-server:test", ConfigHash: "h", OptionsConfigMap: "sw-options-h"}
			Expect(r.ensureCertificates(ctx, p)).To(Succeed())
			want := r.renderStatefulSet(p, 3)
			if err := get(ctx, ns, "sw", sts)(); apierrors.IsNotFound(err) {
				Expect(k8s.Create(ctx, want)).To(Succeed())
			} else {
				Expect(err).NotTo(HaveOccurred())
				sts.Spec.Template = want.Spec.Template
				Expect(k8s.Update(ctx, sts)).To(Succeed())
			}
			Expect(get(ctx, ns, "sw", sts)()).To(Succeed())
			sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 3}
			Expect(k8s.Status().Update(ctx, sts)).To(Succeed())
			p.sts, p.stsReplicas, p.obs, p.client = sts, 3, obs, answering{}
			Expect(r.advanceCARotation(ctx, p)).To(Succeed())
			Expect(r.switchCertificates(ctx, p)).To(Succeed())
			st := c.Status
			Expect(get(ctx, ns, "sw", c)()).To(Succeed())
			c.Status = st
			Expect(k8s.Status().Update(ctx, c)).To(Succeed())
			return p
		}
		secret := func(name string) *corev1.Secret {
			GinkgoHelper()
			s := &corev1.Secret{}
			Expect(get(ctx, ns, name, s)()).To(Succeed())
			return s
		}
		bundle := func(name string) []*x509.Certificate {
			GinkgoHelper()
			certs, err := pki.ParseBundle(secret(name).Data[keyCACert])
			Expect(err).NotTo(HaveOccurred())
			return certs
		}
		phase := func() etcdv1.CARotationPhase {
			if c.Status.CertificateAuthority == nil || c.Status.CertificateAuthority.Rotation == nil {
				return ""
			}
			return c.Status.CertificateAuthority.Rotation.Phase
		}

		run(healthy)
		opCA, err := pki.ParseCert(secret("sw-ca").Data[corev1.TLSCertKey])
		Expect(err).NotTo(HaveOccurred())
		Expect(mountedServerSecret(sts)).To(Equal("sw-server-tls"))

		By("user Secrets named but missing: refused, members keep the operator's")
		Expect(get(ctx, ns, "sw", c)()).To(Succeed())
		c.Spec.TLS.ServerSecretName, c.Spec.TLS.PeerSecretName, c.Spec.TLS.ClientSecretName = "u-server", "u-peer", "u-client"
		Expect(k8s.Update(ctx, c)).To(Succeed())
		p := run(healthy)
		Expect(p.switchRefused).To(ContainSubstring("the server Secret u-server is not found; members keep their certificates from Operator"))
		Expect(mountedServerSecret(sts)).To(Equal("sw-server-tls"))
		Expect(c.Status.TLSSecrets).NotTo(BeNil())
		Expect(c.ClientSecretName()).To(Equal("sw-client-tls"), "the operator and clients keep the operator's client Secret")
		Expect(secret("sw-ca").Annotations).NotTo(HaveKey(annotationSwitchTo))

		By("the user's Secrets from another CA: TrustBoth")
		now := time.Now()
		userCA, err := pki.NewCA("user CA", now.Add(-time.Hour), 24*time.Hour)
		Expect(err).NotTo(HaveOccurred())
		reqs := leafRequests(c, etcdv1.DefaultClusterDomain)
		for own, user := range map[string]string{"sw-server-tls": "u-server", "sw-peer-tls": "u-peer", "sw-client-tls": "u-client"} {
			leaf, err := pki.Issue(userCA, reqs[own], now.Add(-time.Hour), 12*time.Hour)
			Expect(err).NotTo(HaveOccurred())
			Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: ns}, Type: corev1.SecretTypeTLS,
				Data: map[string][]byte{corev1.TLSCertKey: leaf.CertPEM, corev1.TLSPrivateKeyKey: leaf.KeyPEM, keyCACert: userCA.CertPEM}})).To(Succeed())
		}
		userCert, err := pki.ParseCert(userCA.CertPEM)
		Expect(err).NotTo(HaveOccurred())
		p = run(healthy)
		Expect(phase()).To(Equal(etcdv1.CARotationTrustBoth))
		Expect(c.Status.CertificateAuthority.Rotation.From).To(Equal(etcdv1.CertificateSourceOperator))
		Expect(c.Status.CertificateAuthority.Rotation.To).To(Equal(etcdv1.CertificateSourceSecrets))
		Expect(bundle("sw-ca")).To(HaveLen(2))
		trustBefore := sts.Spec.Template.Annotations[AnnotationCATrust]

		p = run(healthy) // the leaves and the template follow the CA Secret
		for _, s := range []string{"sw-server-tls", "sw-peer-tls", "sw-client-tls"} {
			b := bundle(s)
			Expect(b).To(HaveLen(2), "%s trusts both", s)
			Expect(b[0].Equal(opCA) && b[1].Equal(userCert)).To(BeTrue())
			leaf, _ := pki.ParseCert(secret(s).Data[corev1.TLSCertKey])
			Expect(leaf.CheckSignatureFrom(opCA)).To(Succeed(), "%s still from the operator's CA", s)
		}
		Expect(mountedServerSecret(sts)).To(Equal("sw-server-tls"))
		Expect(sts.Spec.Template.Annotations[AnnotationCATrust]).NotTo(Equal(trustBefore), "members restart to trust both")
		Expect(phase()).To(Equal(etcdv1.CARotationIssueFromNew), "rolled out and healthy: the next phase")
		Expect(p.switchMessage).To(ContainSubstring("2/3 IssueFromNew"))

		By("IssueFromNew: the operator's Secrets hold the user's key pairs, and nothing moves while a member is unhealthy")
		sick := healthy
		sick.members = append([]etcdv1.MemberStatus{}, healthy.members...)
		sick.members[1].Healthy = false
		trustBoth := sts.Spec.Template.Annotations[AnnotationCATrust]
		p = run(sick)
		Expect(phase()).To(Equal(etcdv1.CARotationIssueFromNew))
		Expect(p.switchMessage).To(ContainSubstring("waiting for every member to be healthy"))
		Expect(sts.Spec.Template.Annotations[AnnotationCATrust]).NotTo(Equal(trustBoth), "members restart to present the user's leaves")
		for own, user := range map[string]string{"sw-server-tls": "u-server", "sw-peer-tls": "u-peer", "sw-client-tls": "u-client"} {
			Expect(secret(own).Data[corev1.TLSCertKey]).To(Equal(secret(user).Data[corev1.TLSCertKey]), "%s is a copy of %s", own, user)
			Expect(bundle(own)).To(HaveLen(2))
		}
		Expect(c.ClientSecretName()).To(Equal("sw-client-tls"))
		run(healthy)
		Expect(phase()).To(Equal(etcdv1.CARotationDropOld))

		By("DropOld: members mount the user's Secrets; then the operator's CA and Secrets go")
		p = run(healthy)
		Expect(mountedServerSecret(sts)).To(Equal("u-server"))
		Expect(sts.Spec.Template.Annotations).NotTo(HaveKey(AnnotationCATrust), "the template of a cluster made with user Secrets")
		Expect(c.ClientSecretName()).To(Equal("u-client"))
		Expect(p.switchMessage).To(BeEmpty(), "done: nothing in progress")
		Expect(c.Status.CertificateAuthority).To(BeNil())
		for _, s := range []string{"sw-ca", "sw-server-tls", "sw-peer-tls", "sw-client-tls"} {
			Expect(apierrors.IsNotFound(get(ctx, ns, s, &corev1.Secret{})())).To(BeTrue(), "%s deleted", s)
		}
		template := sts.Spec.Template.DeepCopy()
		p = run(healthy)
		Expect(p.switchMessage).To(BeEmpty())
		Expect(sts.Spec.Template).To(Equal(*template), "the end restarts nothing more")

		By("back to the operator's CA")
		Expect(get(ctx, ns, "sw", c)()).To(Succeed())
		c.Spec.TLS.ServerSecretName, c.Spec.TLS.PeerSecretName, c.Spec.TLS.ClientSecretName = "", "", ""
		Expect(k8s.Update(ctx, c)).To(Succeed())
		run(healthy)
		Expect(phase()).To(Equal(etcdv1.CARotationTrustBoth))
		Expect(c.Status.CertificateAuthority.Rotation.To).To(Equal(etcdv1.CertificateSourceOperator))
		newCA, err := pki.ParseCert(secret("sw-ca").Data[corev1.TLSCertKey])
		Expect(err).NotTo(HaveOccurred())
		Expect(newCA.Equal(opCA)).To(BeFalse(), "a new operator CA")
		b := bundle("sw-ca")
		Expect(b).To(HaveLen(2))
		Expect(b[0].Equal(userCert) && b[1].Equal(newCA)).To(BeTrue())

		run(healthy)
		Expect(mountedServerSecret(sts)).To(Equal("sw-server-tls"))
		for own, user := range map[string]string{"sw-server-tls": "u-server", "sw-peer-tls": "u-peer", "sw-client-tls": "u-client"} {
			Expect(secret(own).Data[corev1.TLSCertKey]).To(Equal(secret(user).Data[corev1.TLSCertKey]), "TrustBoth: %s is a copy of %s", own, user)
			Expect(bundle(own)).To(HaveLen(2))
		}
		Expect(phase()).To(Equal(etcdv1.CARotationIssueFromNew))

		run(healthy)
		for _, s := range []string{"sw-server-tls", "sw-peer-tls", "sw-client-tls"} {
			leaf, _ := pki.ParseCert(secret(s).Data[corev1.TLSCertKey])
			Expect(leaf.CheckSignatureFrom(newCA)).To(Succeed(), "IssueFromNew: %s from the operator's new CA", s)
		}
		Expect(phase()).To(Equal(etcdv1.CARotationDropOld))

		run(healthy)
		for _, s := range []string{"sw-ca", "sw-server-tls", "sw-peer-tls", "sw-client-tls"} {
			b := bundle(s)
			Expect(b).To(HaveLen(1), "%s trusts one CA", s)
			Expect(b[0].Equal(newCA)).To(BeTrue(), "%s trusts the operator's CA alone", s)
		}
		Expect(phase()).To(BeEmpty(), "done")
		Expect(c.Status.CertificateAuthority.LastRotationTime).NotTo(BeNil())
		Expect(secret("sw-ca").Annotations).NotTo(HaveKey(annotationSwitchTo))
		template = sts.Spec.Template.DeepCopy()
		p = run(healthy)
		Expect(sts.Spec.Template).To(Equal(*template), "the end restarts nothing more")
		Expect(p.switchMessage + p.caMessage).To(BeEmpty())
	})
})
