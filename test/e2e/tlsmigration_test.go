//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
)

// anySchemeDialer connects an application to a cluster whose members move
// from http to https under it (a TLS migration): the gRPC connection is
// made with insecure transport credentials, and the dialer underneath does
// the TLS handshake itself (ALPN h2, the root client certificate) once the
// client certificate exists, falling back to plain TCP when the member
// does not speak TLS yet. During the migration every member serves both
// schemes on its client port, so whichever member a connection reaches
// answers; after it only TLS does, and the dialer uses it.
type anySchemeDialer struct {
	tls atomic.Pointer[tls.Config]
}

func (d *anySchemeDialer) dial(ctx context.Context, addr string) (net.Conn, error) {
	nd := &net.Dialer{Timeout: 5 * time.Second}
	if cfg := d.tls.Load(); cfg != nil {
		conn, err := nd.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(conn, cfg)
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = tc.HandshakeContext(hctx)
		cancel()
		if err == nil {
			return tc, nil
		}
		_ = conn.Close()
	}
	return nd.DialContext(ctx, "tcp", addr)
}

// loadCertificate waits in the background for the cluster's root client
// certificate (issued once TLS is turned on) and hands it to the dialer.
func (d *anySchemeDialer) loadCertificate(ctx context.Context, ns, name string) {
	go func() {
		defer GinkgoRecover()
		for ctx.Err() == nil {
			s := &corev1.Secret{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-client-tls"}, s); err == nil {
				cfg, err := etcdclient.TLSConfig(s.Data["tls.crt"], s.Data["tls.key"], s.Data["ca.crt"])
				if err == nil {
					cfg.ServerName = fmt.Sprintf("%s-client.%s.svc", name, ns)
					cfg.NextProtos = []string{"h2"}
					d.tls.Store(cfg)
					return
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
}

// anySchemeServiceClient is a client of the cluster's client Service that
// keeps working while TLS is turned on (see anySchemeDialer).
func anySchemeServiceClient(ctx context.Context, ns, name string) *clientv3.Client {
	svc := &corev1.Service{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-client"}, svc)).To(Succeed())
	d := &anySchemeDialer{}
	lctx, cancel := context.WithCancel(context.Background())
	DeferCleanup(cancel)
	d.loadCertificate(lctx, ns, name)
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{fmt.Sprintf("http://%s:%d", svc.Spec.ClusterIP, etcdv1.ClientPort)},
		DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(d.dial)},
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = c.Close() })
	return c
}

// turnTLSOn patches spec.tls.enabled to true and waits for the migration:
// status.tlsMigration gone, Available, nothing progressing, every member
// advertising https and refusing plain http.
func turnTLSOn(ctx context.Context, ns, name string) {
	GinkgoHelper()
	c := &etcdv1.EtcdCluster{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
	patch := client.MergeFrom(c.DeepCopy())
	c.Spec.TLS.Enabled = ptr.To(true)
	Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
	phases := map[etcdv1.TLSMigrationPhase]bool{}
	Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		if c.Status.TLSMigration != nil {
			phases[c.Status.TLSMigration.Phase] = true
			if p := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionProgressing); p != nil && p.Reason == etcdv1.ReasonTLSMigrating {
				GinkgoWriter.Printf("%s\n", p.Message)
			}
		}
		g.Expect(c.Status.TLSMigration).To(BeNil())
		g.Expect(c.Status.ObservedGeneration).To(Equal(c.Generation))
		g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable)).To(BeTrue())
		g.Expect(meta.IsStatusConditionFalse(c.Status.Conditions, etcdv1.ConditionProgressing)).To(BeTrue(), "conditions: %+v", c.Status.Conditions)
		g.Expect(c.Status.ClientEndpoint).To(HavePrefix("https://"))
	}).WithContext(ctx).WithTimeout(15 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	GinkgoWriter.Printf("TLS migration phases seen: %v\n", phases)
	Expect(phases).NotTo(BeEmpty(), "the migration was never recorded in status.tlsMigration")

	tlsCfg := clientTLS(ctx, ns, name)
	https := etcdClient(podEndpoints(ctx, ns, name, "https"), tlsCfg)
	list, err := https.MemberList(op(ctx))
	Expect(err).NotTo(HaveOccurred())
	Expect(list.Members).To(HaveLen(3))
	for _, m := range list.Members {
		Expect(m.PeerURLs).To(ConsistOf(HavePrefix("https://")), "member %s", m.Name)
		Expect(m.PeerURLs[0]).To(HaveSuffix(":2380"), "member %s", m.Name)
		Expect(m.ClientURLs).To(ConsistOf(HavePrefix("https://")), "member %s", m.Name)
	}
	for _, ep := range podEndpoints(ctx, ns, name, "http") {
		plain := etcdClient([]string{ep}, nil)
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := plain.Get(pctx, "/load/")
		cancel()
		Expect(err).To(HaveOccurred(), "%s still serves plain http", ep)
	}
}

var _ = Describe("TLS migration", func() {
	It("TLS turned on for a running TLS-off cluster under load (linearizable, no lost write)", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		name := "plain"
		createCluster(ctx, ns, name, 3, func(c *etcdv1.EtcdCluster) {
			c.Spec.TLS.Enabled = ptr.To(false)
			c.Spec.Auth.Enabled = ptr.To(false)
			// Three rolling restarts of three members: the default 30 s
			// settle per restart would add 4.5 minutes to what this spec
			// tests (the migration's order), not to its safety.
			c.Spec.Rollout.MinReadySeconds = ptr.To[int32](5)
		})
		waitAvailable(ctx, ns, name, 3)
		// A running cluster: formed, and nothing left to do. (Turning TLS on
		// in the first seconds after creation once left the operator
		// talking https to members still serving http, in a CI run under
		// load: a cache that did not hold the new StatefulSet yet made the
		// cluster look new; the API server is now asked, see
		// tlsmigration_envtest_test.go. This spec tests the settled case.)
		Eventually(func(g Gomega) {
			c := &etcdv1.EtcdCluster{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
			g.Expect(c.Status.ObservedGeneration).To(Equal(c.Generation))
			g.Expect(meta.IsStatusConditionFalse(c.Status.Conditions, etcdv1.ConditionProgressing)).To(BeTrue(), "conditions: %+v", c.Status.Conditions)
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
		cl := anySchemeServiceClient(ctx, ns, name)
		w := startWriter(ctx, cl)

		turnTLSOn(ctx, ns, name)
		time.Sleep(2 * time.Second)
		acked, failed := w.finish()
		GinkgoWriter.Printf("writer: %d acknowledged, %d failed, longest gap between acknowledged writes %v\n", len(acked), failed, w.maxGap)
		Expect(len(acked)).To(BeNumerically(">", 100))
		// Members restart one at a time (three rolling restarts): a write
		// may wait for a new leader, never for longer than this.
		Expect(w.maxGap).To(BeNumerically("<", 15*time.Second))
		https := etcdClient(podEndpoints(ctx, ns, name, "https"), clientTLS(ctx, ns, name))
		expectAllWritten(ctx, https, acked)
	}, SpecTimeout(25*time.Minute))
})
