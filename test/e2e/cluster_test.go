//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/ptr"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func runOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

var _ = Describe("EtcdCluster", func() {
	It("runs a 3-member cluster that serves TLS clients and refuses the rest", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "trio", 3, nil)
		c := waitAvailable(ctx, ns, "trio", 3)

		leaders := 0
		for _, m := range c.Status.Members {
			Expect(m.ID).NotTo(BeEmpty())
			Expect(m.Version).To(Equal("3.7.3"))
			if m.Role == etcdv1.RoleLeader {
				leaders++
			}
		}
		Expect(leaders).To(Equal(1), "members: %+v", c.Status.Members)
		Expect(c.Status.ClusterID).NotTo(BeEmpty())

		By("Ready once nothing is in progress, and the LEADER column's status.leader naming the member that leads")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "trio"}, c)).To(Succeed())
			r := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionReady)
			g.Expect(r).NotTo(BeNil(), "conditions: %+v", c.Status.Conditions)
			g.Expect(r.Status).To(Equal(metav1.ConditionTrue), "conditions: %+v", c.Status.Conditions)
			g.Expect(r.Reason).To(Equal(etcdv1.ReasonReconciled))
			var lead string
			for _, m := range c.Status.Members {
				if m.Role == etcdv1.RoleLeader {
					lead = m.Name
				}
			}
			g.Expect(c.Status.Leader).To(And(Not(BeEmpty()), Equal(lead)), "members: %+v", c.Status.Members)
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())

		By("writing through one member and reading through every other with the root client certificate")
		eps := podEndpoints(ctx, ns, "trio", "https")
		tlsCfg := clientTLS(ctx, ns, "trio")
		w := etcdClient(eps[:1], tlsCfg)
		put, err := w.Put(op(ctx), "/e2e/key", "value-1")
		Expect(err).NotTo(HaveOccurred())
		for _, ep := range eps {
			r := etcdClient([]string{ep}, tlsCfg)
			resp, err := r.Get(op(ctx), "/e2e/key")
			Expect(err).NotTo(HaveOccurred(), ep)
			Expect(resp.Kvs).To(HaveLen(1))
			Expect(string(resp.Kvs[0].Value)).To(Equal("value-1"))
			Expect(resp.Header.Revision).To(BeNumerically(">=", put.Header.Revision))
		}

		By("refusing a plaintext client")
		plain := etcdClient(eps[:1], nil)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = plain.Get(pctx, "/e2e/key")
		cancel()
		Expect(err).To(HaveOccurred())

		By("refusing a TLS client without a certificate")
		anon := tlsCfg.Clone()
		anon.Certificates = nil
		nocert := etcdClient(eps[:1], anon)
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = nocert.Get(actx, "/e2e/key")
		cancel()
		Expect(err).To(HaveOccurred())

		By("refusing a client whose certificate names no etcd user, once auth is on")
		Eventually(func() bool {
			_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "trio"}, c)
			return c.Status.AuthEnabled
		}).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(BeTrue())
		stranger := etcdClient(eps[:1], strangerTLS(ctx, ns, "trio", "nobody"))
		_, err = stranger.Put(op(ctx), "/e2e/key", "overwritten")
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(Or(ContainSubstring("user name not found"), ContainSubstring("permission denied")))

		By("refusing plaintext and certificate-less connections on the client and peer ports")
		for _, ep := range eps {
			host := strings.TrimPrefix(ep, "https://")
			host = host[:strings.LastIndex(host, ":")]
			for _, port := range []int{etcdv1.ClientPort, etcdv1.PeerPort} {
				addr := net.JoinHostPort(host, strconv.Itoa(port))
				Expect(plainHTTPServed(addr)).To(BeFalse(), "plain http answered on %s", addr)
				Expect(servesWithoutClientCert(addr, tlsCfg)).To(BeFalse(), "%s served a TLS client without a certificate", addr)
			}
		}

		By("using etcdctl inside a member pod through the client Service")
		out, err := kubectlExec(ns, "trio-1", "etcdctl", "--endpoints", "https://trio-client:2379", "get", "/e2e/key", "--print-value-only")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(Equal("value-1"))

		By("having switched the bootstrap state to existing once formed")
		cm := &corev1.ConfigMap{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "trio-config"}, cm)).To(Succeed())
		Expect(cm.Data["initial-cluster-state"]).To(Equal("existing"))
	}, SpecTimeout(10*time.Minute))

	It("runs without TLS with password authentication enforced, applies a changed password, and keeps its credentials with its volumes across delete and recreate", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		plain := func(c *etcdv1.EtcdCluster) { c.Spec.TLS.Enabled = ptr.To(false) }
		createCluster(ctx, ns, "plain", 1, plain)
		waitAvailable(ctx, ns, "plain", 1)
		c := &etcdv1.EtcdCluster{}
		Eventually(func() bool {
			_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "plain"}, c)
			return c.Status.AuthEnabled
		}).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(BeTrue())
		eps := podEndpoints(ctx, ns, "plain", "http")
		anon := etcdClient(eps, nil)
		_, err := anon.Put(op(ctx), "/k", "v")
		Expect(err).To(HaveOccurred(), "anonymous write accepted")

		pw := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.Status.RootPasswordSecretName}, pw)).To(Succeed())
		Expect(pw.OwnerReferences).To(BeEmpty(), "kept with the volumes (whenDeleted Retain), not with the cluster")
		root, err := passwordClient(eps, nil, string(pw.Data["password"]))
		Expect(err).NotTo(HaveOccurred())
		_, err = root.Put(op(ctx), "/kept", "yes")
		Expect(err).NotTo(HaveOccurred())
		_ = root.Close()

		By("changing the password in the Secret: the operator applies it to etcd")
		old := string(pw.Data["password"])
		pw.Data["password"] = []byte("changed-by-the-user")
		Expect(k8s.Update(ctx, pw)).To(Succeed())
		Eventually(func() error {
			cl, err := passwordClient(eps, nil, "changed-by-the-user")
			if err == nil {
				_ = cl.Close()
			}
			return err
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		_, err = passwordClient(eps, nil, old)
		Expect(err).To(MatchError(ContainSubstring("authentication failed")), "the old password is refused")
		waitAvailable(ctx, ns, "plain", 1)

		By("deleting the cluster: its claim and its password Secrets stay")
		Expect(k8s.Delete(ctx, &etcdv1.EtcdCluster{ObjectMeta: metav1ObjectMeta(ns, "plain")})).To(Succeed())
		Eventually(func() int {
			pods := &corev1.PodList{}
			_ = k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{etcdv1.LabelInstance: "plain"})
			return len(pods.Items)
		}).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(BeZero())
		Eventually(func() error {
			return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "plain-config"}, &corev1.ConfigMap{})
		}).WithTimeout(time.Minute).WithPolling(time.Second).ShouldNot(Succeed(), "owned objects are garbage collected")
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "plain-root-password"}, pw)).To(Succeed())
		Expect(string(pw.Data["password"])).To(Equal("changed-by-the-user"))
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "plain-root-password-applied"}, &corev1.Secret{})).To(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-plain-0"}, &corev1.PersistentVolumeClaim{})).To(Succeed())

		By("recreating it on the kept volume: it adopts the password and serves its old data")
		createCluster(ctx, ns, "plain", 1, plain)
		c = waitAvailable(ctx, ns, "plain", 1)
		Expect(c.Status.RootPasswordSecretName).To(Equal("plain-root-password"))
		root, err = passwordClient(podEndpoints(ctx, ns, "plain", "http"), nil, "changed-by-the-user")
		Expect(err).NotTo(HaveOccurred())
		defer root.Close()
		resp, err := root.Get(op(ctx), "/kept")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).To(HaveLen(1))
		Expect(string(resp.Kvs[0].Value)).To(Equal("yes"))
	}, SpecTimeout(10*time.Minute))

	It("runs a single member, and keeps its data across delete and recreate with retained volumes", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "solo", 1, nil)
		waitAvailable(ctx, ns, "solo", 1)
		cl := etcdClient(podEndpoints(ctx, ns, "solo", "https"), clientTLS(ctx, ns, "solo"))
		_, err := cl.Put(op(ctx), "/kept", "yes")
		Expect(err).NotTo(HaveOccurred())
		Expect(cl.Close()).To(Succeed())

		By("deleting the cluster: its pods go, its claim stays (retention Retain)")
		Expect(k8s.Delete(ctx, &etcdv1.EtcdCluster{ObjectMeta: metav1ObjectMeta(ns, "solo")})).To(Succeed())
		Eventually(func() int {
			pods := &corev1.PodList{}
			_ = k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{etcdv1.LabelInstance: "solo"})
			return len(pods.Items)
		}).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(BeZero())
		Eventually(func() error {
			return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "solo-ca"}, &corev1.Secret{})
		}).WithTimeout(time.Minute).WithPolling(time.Second).ShouldNot(Succeed(), "the old CA is garbage collected")
		pvc := &corev1.PersistentVolumeClaim{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-solo-0"}, pvc)).To(Succeed())

		By("recreating it under the same name: the member restarts from its data")
		createCluster(ctx, ns, "solo", 1, nil)
		waitAvailable(ctx, ns, "solo", 1)
		cl = etcdClient(podEndpoints(ctx, ns, "solo", "https"), clientTLS(ctx, ns, "solo"))
		resp, err := cl.Get(op(ctx), "/kept")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).To(HaveLen(1), fmt.Sprintf("%+v", resp))
		Expect(string(resp.Kvs[0].Value)).To(Equal("yes"))
	}, SpecTimeout(10*time.Minute))
})

// plainHTTPServed tells whether addr answers a plain http request with
// anything but an error status (a TLS-only port answers 400 or hangs up).
func plainHTTPServed(addr string) bool {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/version")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode < 400
}

// servesWithoutClientCert tells whether addr completes a TLS session with a
// client that presents no certificate and reads an answer from it.
func servesWithoutClientCert(addr string, cfg *tls.Config) bool {
	anon := cfg.Clone()
	anon.Certificates = nil
	anon.NextProtos = []string{"http/1.1"}
	// Only the server's demand for a client certificate is probed here: the
	// peer port's certificate names the peer Service, not the client one.
	anon.InsecureSkipVerify = true
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, anon)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return false
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	return err == nil && n > 0
}
