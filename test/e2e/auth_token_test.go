//go:build e2e

package e2e

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/metadata"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var _ = Describe("Auth tokens", func() {
	It("accepts a token taken before a rolling restart on every member after it", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		// TLS off: clients authenticate with a password and get a token
		// (with TLS, the client certificate names the user). The type is
		// the default, jwt; the TTL outlasts the rollout.
		createCluster(ctx, ns, "tok", 3, func(c *etcdv1.EtcdCluster) {
			c.Spec.TLS.Enabled = ptr.To(false)
			c.Spec.Auth.Token.TTL = &metav1.Duration{Duration: 30 * time.Minute}
		})
		c := waitAvailable(ctx, ns, "tok", 3)
		Expect(c.Spec.Auth.Token.Type).To(Equal(etcdv1.AuthTokenJWT), "jwt is the default")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tok"}, c)).To(Succeed())
			g.Expect(c.Status.AuthEnabled).To(BeTrue())
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		key := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tok-auth-token-key"}, key)).To(Succeed())
		Expect(key.OwnerReferences).To(BeEmpty(), "kept with the volumes, like the root password")

		By("authenticating once as root and keeping the token")
		pw := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.Status.RootPasswordSecretName}, pw)).To(Succeed())
		anon := etcdClient(podEndpoints(ctx, ns, "tok", "http"), nil)
		auth, err := anon.Authenticate(op(ctx), "root", string(pw.Data["password"]))
		Expect(err).NotTo(HaveOccurred())
		token := auth.Token
		Expect(strings.Count(token, ".")).To(Equal(2), "token %q is not a JWT", token)
		withToken := func() context.Context {
			return metadata.AppendToOutgoingContext(op(ctx), rpctypes.TokenFieldNameGRPC, token)
		}
		_, err = anon.Put(withToken(), "/token/before", "written with the token")
		Expect(err).NotTo(HaveOccurred())

		By("restarting every member for an options change")
		before := map[string]types.UID{}
		for name, p := range memberPods(ctx, ns, "tok") {
			before[name] = p.uid
		}
		Expect(before).To(HaveLen(3))
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tok"}, c)).To(Succeed())
		patch := client.MergeFrom(c.DeepCopy())
		c.Spec.EtcdOptions = map[string]string{"snapshot-count": "20000"}
		Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
		Eventually(func(g Gomega) {
			now := memberPods(ctx, ns, "tok")
			g.Expect(now).To(HaveLen(3))
			for name, p := range now {
				g.Expect(p.uid).NotTo(Equal(before[name]), "pod %s not replaced yet", name)
			}
		}).WithContext(ctx).WithTimeout(8 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		waitSettled(ctx, ns, "tok", 3)

		By("using the old token on every member")
		eps := podEndpoints(ctx, ns, "tok", "http")
		Expect(eps).To(HaveLen(3))
		for _, ep := range eps {
			one := etcdClient([]string{ep}, nil)
			got, err := one.Get(withToken(), "/token/before")
			Expect(err).NotTo(HaveOccurred(), "member %s refuses the token taken before the rollout", ep)
			Expect(got.Kvs).To(HaveLen(1))
			Expect(string(got.Kvs[0].Value)).To(Equal("written with the token"))
			_, err = one.Put(withToken(), "/token/after/"+ep, "yes")
			Expect(err).NotTo(HaveOccurred(), "member %s", ep)
			_, err = one.Get(op(ctx), "/token/before")
			Expect(err).To(HaveOccurred(), "member %s answers without a token", ep)
		}
	}, SpecTimeout(15*time.Minute))
})
