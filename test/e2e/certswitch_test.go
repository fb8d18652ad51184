//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
)

// userSecrets issues, from a CA of the test's own, the three Secrets a
// cluster named name in ns needs, with the names and usages the operator
// gives its own leaves (leafRequests in controllers/etcdcluster).
func userSecrets(ctx context.Context, ns, name, prefix string) pki.Pair {
	GinkgoHelper()
	ca, err := pki.NewCA("e2e user CA", time.Now().Add(-time.Hour), 48*time.Hour)
	Expect(err).NotTo(HaveOccurred())
	domain := etcdv1.DefaultClusterDomain
	peer := []string{fmt.Sprintf("*.%s-peer.%s.svc.%s", name, ns, domain), fmt.Sprintf("*.%s-peer.%s.svc", name, ns)}
	svc := name + "-client"
	server := append([]string{svc, svc + "." + ns, svc + "." + ns + ".svc", svc + "." + ns + ".svc." + domain, "localhost"}, peer...)
	reqs := map[string]pki.LeafRequest{
		prefix + "-server": {CommonName: name + "-server", DNSNames: server, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, Server: true, Client: true},
		prefix + "-peer":   {CommonName: name + "-peer", DNSNames: peer, Server: true, Client: true},
		prefix + "-client": {CommonName: "root", Client: true},
	}
	for sn, req := range reqs {
		leaf, err := pki.Issue(ca, req, time.Now().Add(-time.Hour), 24*time.Hour)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: sn, Namespace: ns}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": leaf.CertPEM, "tls.key": leaf.KeyPEM, "ca.crt": ca.CertPEM}})).To(Succeed())
	}
	return ca
}

var _ = Describe("Switching certificate sources", func() {
	It("switches a running cluster from the operator's CA to the user's Secrets under a writer: Available throughout, no write lost, the operator's CA trusted nowhere", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		name := "certsw"
		createCluster(ctx, ns, name, 3, func(c *etcdv1.EtcdCluster) {
			c.Spec.Rollout.MinReadySeconds = ptr.To[int32](5) // nine restarts; settling is the undo specs' subject
		})
		waitAvailable(ctx, ns, name, 3)
		opSecret := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-ca"}, opSecret)).To(Succeed())
		opCA := pki.Pair{CertPEM: opSecret.Data["tls.crt"], KeyPEM: opSecret.Data["tls.key"]}

		By("asking for user Secrets that do not exist yet: refused, the cluster keeps the operator's CA")
		c := &etcdv1.EtcdCluster{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		patch := client.MergeFrom(c.DeepCopy())
		c.Spec.TLS.ServerSecretName, c.Spec.TLS.PeerSecretName, c.Spec.TLS.ClientSecretName = "user-server", "user-peer", "user-client"
		Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
			g.Expect(c.Status.Reason).To(Equal(etcdv1.ReasonCertificateSwitchRefused))
			g.Expect(c.Status.ClientSecretName).To(Equal(name+"-client-tls"), "clients keep the operator's Secret")
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())

		// A client that follows status.clientSecretName, as an application
		// told to read it would.
		clientSecret := func(rctx context.Context) (string, error) {
			got := &etcdv1.EtcdCluster{}
			if err := k8s.Get(rctx, client.ObjectKey{Namespace: ns, Name: name}, got); err != nil {
				return "", err
			}
			return got.Status.ClientSecretName, nil
		}
		w := startWriter(ctx, serviceClient(ctx, ns, name, followingTLS(ctx, ns, name, clientSecret)))
		avail := watchAvailable(ctx, ns, name)

		By("creating the user's Secrets from another CA: the switch runs its three phases")
		userCA := userSecrets(ctx, ns, name, "user")
		userCert, err := pki.ParseCert(userCA.CertPEM)
		Expect(err).NotTo(HaveOccurred())
		seen := ""
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
			if ca := c.Status.CertificateAuthority; ca != nil && ca.Rotation != nil && !strings.HasSuffix(seen, string(ca.Rotation.Phase)) {
				seen += " " + string(ca.Rotation.Phase)
				GinkgoWriter.Printf("%s switch phase %s (%s → %s)\n", time.Now().Format(time.RFC3339), ca.Rotation.Phase, ca.Rotation.From, ca.Rotation.To)
			}
			g.Expect(c.Status.CertificateAuthority).To(BeNil())
			g.Expect(c.Status.TLSSecrets).To(BeNil())
			g.Expect(c.Status.ClientSecretName).To(Equal("user-client"))
			err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-ca"}, &corev1.Secret{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the operator's CA Secret is deleted")
		}).WithContext(ctx).WithTimeout(15 * time.Minute).WithPolling(time.Second).Should(Succeed())
		Expect(seen).To(Equal(" TrustBoth IssueFromNew DropOld"))
		waitAvailable(ctx, ns, name, 3)
		time.Sleep(5 * time.Second) // a few more writes on the user's certificates alone
		lost := avail.finish()
		acked, failed := w.finish()
		GinkgoWriter.Printf("writes acknowledged %d, failed %d, largest gap %v\n", len(acked), failed, w.maxGap)
		Expect(lost).To(BeEmpty(), "Available throughout")
		// Nine restarts; a Put in flight when its member stops is refused,
		// not lost (see the CA rotation fault): at most one per restart.
		Expect(failed).To(BeNumerically("<=", 9), "failed writes: %v", w.errs)

		By("members mount the user's Secrets and the operator's Secrets are gone")
		sts := &appsv1.StatefulSet{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sts)).To(Succeed())
		for _, v := range sts.Spec.Template.Spec.Volumes {
			if v.Secret != nil && strings.HasSuffix(v.Name, "-tls") {
				Expect(v.Secret.SecretName).To(HavePrefix("user-"), "volume %s", v.Name)
			}
		}
		for _, sn := range []string{"-server-tls", "-peer-tls", "-client-tls"} {
			err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + sn}, &corev1.Secret{})
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "secret %s is deleted", name+sn)
		}

		By("every member serves, on its client and peer port, a certificate from the user's CA, verified against it alone")
		expectServedFrom(ctx, ns, name, followingTLS(ctx, ns, name, clientSecret), userCert)

		By("a client certificate from the operator's CA is refused by every member")
		expectOldCARefused(ctx, ns, name, followingTLS(ctx, ns, name, clientSecret), opCA)

		By("every acknowledged write is there")
		fresh := etcdClient(podEndpoints(ctx, ns, name, "https"), followingTLS(ctx, ns, name, clientSecret))
		for _, k := range acked {
			resp, err := fresh.Get(op(ctx), k)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Kvs).To(HaveLen(1), k)
		}
	}, SpecTimeout(25*time.Minute))
})
