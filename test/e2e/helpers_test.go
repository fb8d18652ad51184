//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/pki"
)

func newNamespace(ctx context.Context) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		if CurrentSpecReport().Failed() {
			dump(ctx, ns.Name)
			if os.Getenv("E2E_KEEP_FAILED") == "1" {
				return
			}
		}
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, ns))).To(Succeed())
	})
	return ns.Name
}

// dump prints what a failed spec left behind.
func dump(ctx context.Context, ns string) {
	list := &etcdv1.EtcdClusterList{}
	if k8s.List(ctx, list, client.InNamespace(ns)) == nil {
		for _, c := range list.Items {
			GinkgoWriter.Printf("EtcdCluster %s status: %+v\n", c.Name, c.Status)
		}
	}
	pods := &corev1.PodList{}
	if k8s.List(ctx, pods, client.InNamespace(ns)) == nil {
		for _, p := range pods.Items {
			GinkgoWriter.Printf("pod %s phase %s ip %s\n", p.Name, p.Status.Phase, p.Status.PodIP)
			for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
				GinkgoWriter.Printf("  %s ready=%v restarts=%d state=%+v\n", cs.Name, cs.Ready, cs.RestartCount, cs.State)
			}
			tail := int64(30)
			raw, err := clientset.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: "etcd", TailLines: &tail}).DoRaw(ctx)
			if err == nil {
				GinkgoWriter.Printf("  logs:\n%s\n", raw)
			}
		}
	}
}

func createCluster(ctx context.Context, ns, name string, replicas int32, mut func(*etcdv1.EtcdCluster)) *etcdv1.EtcdCluster {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: &replicas}}
	if mut != nil {
		mut(c)
	}
	Expect(k8s.Create(ctx, c)).To(Succeed())
	return c
}

// waitAvailable waits until the cluster reports Available with every member
// healthy, and returns it.
func waitAvailable(ctx context.Context, ns, name string, members int) *etcdv1.EtcdCluster {
	c := &etcdv1.EtcdCluster{}
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable)).To(BeTrue(), "conditions: %+v", c.Status.Conditions)
		g.Expect(c.Status.ReadyReplicas).To(Equal(int32(members)))
		healthy := 0
		for _, m := range c.Status.Members {
			if m.Healthy {
				healthy++
			}
		}
		g.Expect(healthy).To(Equal(members), "members: %+v", c.Status.Members)
	}).WithContext(ctx).WithTimeout(6 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	return c
}

// podEndpoints are the client URLs of the cluster's pods by pod IP: the host
// reaches pod IPs, not cluster DNS names.
func podEndpoints(ctx context.Context, ns, name, scheme string) []string {
	pods := &corev1.PodList{}
	Expect(k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{etcdv1.LabelInstance: name, etcdv1.LabelName: etcdv1.NameValue})).To(Succeed())
	var eps []string
	for _, p := range pods.Items {
		if p.Status.PodIP != "" && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			eps = append(eps, fmt.Sprintf("%s://%s:%d", scheme, p.Status.PodIP, etcdv1.ClientPort))
		}
	}
	Expect(eps).NotTo(BeEmpty())
	return eps
}

// clientTLS loads the cluster's root client certificate from its Secret.
// The server certificate names the client Service, which the host does
// not resolve, so the name is checked explicitly.
func clientTLS(ctx context.Context, ns, name string) *tls.Config {
	s := &corev1.Secret{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-client-tls"}, s)).To(Succeed())
	cfg, err := etcdclient.TLSConfig(s.Data["tls.crt"], s.Data["tls.key"], s.Data["ca.crt"])
	Expect(err).NotTo(HaveOccurred())
	cfg.ServerName = fmt.Sprintf("%s-client.%s.svc", name, ns)
	return cfg
}

// etcdClient connects to endpoints. The client replaces the TLS server
// name by the endpoint's host (a pod IP here), so the name the certificate
// carries goes in as the connection's authority instead.
func etcdClient(endpoints []string, tlsCfg *tls.Config) *clientv3.Client {
	cfg := clientv3.Config{Endpoints: endpoints, TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if tlsCfg != nil && tlsCfg.ServerName != "" {
		cfg.DialOptions = []grpc.DialOption{grpc.WithAuthority(tlsCfg.ServerName)}
	}
	c, err := clientv3.New(cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = c.Close() })
	return c
}

// passwordClient connects as root with a password (and the client
// certificate tlsCfg, if not nil). The password is checked while
// connecting: a rejected one is an error ("authentication failed").
func passwordClient(endpoints []string, tlsCfg *tls.Config, password string) (*clientv3.Client, error) {
	cfg := clientv3.Config{Endpoints: endpoints, TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		Username: "root", Password: password}
	if tlsCfg != nil && tlsCfg.ServerName != "" {
		cfg.DialOptions = []grpc.DialOption{grpc.WithAuthority(tlsCfg.ServerName)}
	}
	return clientv3.New(cfg)
}

// kubectlExec runs a command in a member's etcd container.
func kubectlExec(ns, pod string, args ...string) (string, error) {
	out, err := runOut("kubectl", append([]string{"exec", "-n", ns, pod, "-c", "etcd", "--"}, args...)...)
	return strings.TrimSpace(out), err
}

func metav1ObjectMeta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}

// strangerTLS is a client certificate signed by the cluster's CA for a user
// etcd does not know: it passes TLS and must fail authorisation.
func strangerTLS(ctx context.Context, ns, name, user string) *tls.Config {
	ca := &corev1.Secret{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-ca"}, ca)).To(Succeed())
	leaf, err := pki.Issue(pki.Pair{CertPEM: ca.Data["tls.crt"], KeyPEM: ca.Data["tls.key"]}, pki.LeafRequest{CommonName: user, Client: true}, time.Now(), time.Hour)
	Expect(err).NotTo(HaveOccurred())
	cfg, err := etcdclient.TLSConfig(leaf.CertPEM, leaf.KeyPEM, ca.Data["ca.crt"])
	Expect(err).NotTo(HaveOccurred())
	cfg.ServerName = fmt.Sprintf("%s-client.%s.svc", name, ns)
	return cfg
}

// op bounds one etcd request, so that a broken connection fails the spec
// instead of hanging it.
func op(ctx context.Context) context.Context {
	c, cancel := context.WithTimeout(ctx, 15*time.Second)
	DeferCleanup(cancel)
	return c
}

func clientInNamespace(ns string) client.ListOption { return client.InNamespace(ns) }
