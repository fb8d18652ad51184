package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/contract"
)

var _ = Describe("EtcdCluster auth tokens", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	// template returns the member pod template's config hash, its
	// QUORUM_AUTH_TOKEN, and the Secret its signing key volume mounts.
	template := func(ctx SpecContext, g Gomega, ns, name string) (hash, token, keySecret string) {
		sts := &appsv1.StatefulSet{}
		g.Expect(get(ctx, ns, name, sts)()).To(Succeed())
		tpl := sts.Spec.Template
		for _, e := range tpl.Spec.Containers[0].Env {
			if e.Name == contract.EnvAuthToken {
				token = e.Value
			}
		}
		for _, v := range tpl.Spec.Volumes {
			if v.Secret != nil && v.Secret.SecretName == name+"-auth-token-key" {
				keySecret = v.Secret.SecretName
				for _, m := range tpl.Spec.Containers[0].VolumeMounts {
					g.Expect(m.Name != v.Name || m.MountPath == render.AuthTokenKeyDir).To(BeTrue(), "mounted at %s", m.MountPath)
				}
			}
		}
		return tpl.Annotations[render.AnnotationConfigHash], token, keySecret
	}

	It("generates the JWT signing key once, mounts it in every member, keeps it stable, and rolls a new one out", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "tok", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Expect(c.Spec.Auth.Token.Type).To(Equal(etcdv1.AuthTokenJWT), "the CRD defaults new clusters to jwt")
		Expect(c.Spec.Auth.Token.TTL.Duration).To(Equal(5 * time.Minute))

		key := &corev1.Secret{}
		Eventually(get(ctx, ns, "tok-auth-token-key", key), timeout, poll).Should(Succeed())
		keyHash, err := render.AuthTokenKeyHash(key.Data)
		Expect(err).NotTo(HaveOccurred(), "the generated Secret holds an ES256 key pair")
		Expect(key.OwnerReferences).To(BeEmpty(), "kept volumes (whenDeleted Retain) keep their signing key")
		var hash string
		Eventually(func(g Gomega) {
			h, token, secret := template(ctx, g, ns, "tok")
			g.Expect(token).To(Equal(contract.AuthTokenJWT))
			g.Expect(secret).To(Equal("tok-auth-token-key"))
			hash = h
		}, timeout, poll).Should(Succeed())

		By("passes after the first change neither the key nor the template")
		rv := key.ResourceVersion
		for range 3 {
			mutate(ctx, ns, "tok", poke)
			Consistently(func(g Gomega) {
				g.Expect(get(ctx, ns, "tok-auth-token-key", key)()).To(Succeed())
				g.Expect(key.ResourceVersion).To(Equal(rv))
				h, _, _ := template(ctx, g, ns, "tok")
				g.Expect(h).To(Equal(hash))
			}, 500*time.Millisecond, poll).Should(Succeed())
		}

		By("deleting the claims with the cluster: the key goes with it too")
		mutate(ctx, ns, "tok", func(c *etcdv1.EtcdCluster) { c.Spec.Storage.WhenDeleted = etcdv1.PVCDelete })
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "tok-auth-token-key", key)()).To(Succeed())
			g.Expect(get(ctx, ns, "tok", c)()).To(Succeed())
			g.Expect(metav1.IsControlledBy(key, c)).To(BeTrue())
		}, timeout, poll).Should(Succeed())
		Expect(render.AuthTokenKeyHash(key.Data)).To(Equal(keyHash), "the same key")

		By("a deleted key Secret: a new key, and, once checked, a new template that restarts the members with it")
		Expect(k8s.Delete(ctx, key)).To(Succeed())
		finishJob(ctx, preflightJob(ctx, ns, timeout, poll), true, "")
		mutate(ctx, ns, "tok", poke)
		Eventually(func(g Gomega) {
			fresh := &corev1.Secret{}
			g.Expect(get(ctx, ns, "tok-auth-token-key", fresh)()).To(Succeed())
			h, err := render.AuthTokenKeyHash(fresh.Data)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(h).NotTo(Equal(keyHash))
			th, _, _ := template(ctx, g, ns, "tok")
			g.Expect(th).NotTo(Equal(hash))
			hash = th
		}, timeout, poll).Should(Succeed())

		By("a key Secret that holds no key: reported, and no member is touched")
		Expect(get(ctx, ns, "tok-auth-token-key", key)()).To(Succeed())
		key.Data[render.AuthTokenPrivateKey] = []byte("not a key")
		Expect(k8s.Update(ctx, key)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "tok", c)()).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonAuthTokenKeyInvalid))
			g.Expect(cond.Message).To(ContainSubstring("secret tok-auth-token-key does not hold the JWT signing key"))
		}, timeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			h, _, _ := template(ctx, g, ns, "tok")
			g.Expect(h).To(Equal(hash))
		}, time.Second, poll).Should(Succeed())
	})

	It("renders simple tokens without a key Secret", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "simple", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{
			Replicas: ptr.To[int32](1), Auth: etcdv1.AuthSpec{Token: etcdv1.AuthTokenSpec{Type: etcdv1.AuthTokenSimple}}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(func(g Gomega) {
			_, token, secret := template(ctx, g, ns, "simple")
			g.Expect(token).To(BeEmpty(), "quorum-etcd's default is simple")
			g.Expect(secret).To(BeEmpty())
		}, timeout, poll).Should(Succeed())
		Consistently(get(ctx, ns, "simple-auth-token-key", &corev1.Secret{}), time.Second, poll).ShouldNot(Succeed())
	})
})
