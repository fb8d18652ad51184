//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// servedSerial is the serial number of the certificate a member presents.
func servedSerial(endpoint string, cfg *tls.Config) (string, error) {
	host := strings.TrimPrefix(endpoint, "https://")
	d := &net.Dialer{Timeout: 3 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", host, cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

var _ = Describe("Certificate rotation", func() {
	It("re-issues server and peer certificates and members serve them without a restart or lost writes", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "rot", 3, nil)
		waitAvailable(ctx, ns, "rot", 3)
		tlsCfg := clientTLS(ctx, ns, "rot")
		eps := podEndpoints(ctx, ns, "rot", "https")
		before := map[string]string{}
		for _, ep := range eps {
			s, err := servedSerial(ep, tlsCfg)
			Expect(err).NotTo(HaveOccurred())
			before[ep] = s
		}
		w := startWriter(ctx, etcdClient(eps, tlsCfg))

		By("deleting the server and peer certificate Secrets: the operator issues new ones")
		for _, name := range []string{"rot-server-tls", "rot-peer-tls"} {
			Expect(k8s.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())
		}

		By("waiting until every member presents a new certificate")
		waitNewSerials(ctx, eps, tlsCfg, before)
		time.Sleep(5 * time.Second) // a few more writes on the new certificates
		acked, failed := w.finish()
		GinkgoWriter.Printf("writes acknowledged %d, failed %d, largest gap %v\n", len(acked), failed, w.maxGap)
		Expect(failed).To(BeZero(), "failed writes: %v", w.errs)
		Expect(w.maxGap).To(BeNumerically("<", 3*time.Second))

		By("checking no pod restarted and every acknowledged write is there")
		pods := &corev1.PodList{}
		Expect(k8s.List(ctx, pods, clientInNamespace(ns))).To(Succeed())
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				Expect(cs.RestartCount).To(BeZero(), p.Name)
			}
		}
		fresh := etcdClient(eps, tlsCfg) // new connections: new handshakes
		for _, k := range acked {
			resp, err := fresh.Get(op(ctx), k)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Kvs).To(HaveLen(1), k)
		}
	}, SpecTimeout(10*time.Minute))
})

// waitNewSerials waits until every endpoint serves a certificate other
// than the one it served before.
func waitNewSerials(ctx context.Context, eps []string, tlsCfg *tls.Config, before map[string]string) {
	GinkgoHelper()
	Eventually(func() error {
		for _, ep := range eps {
			s, err := servedSerial(ep, tlsCfg)
			if err != nil {
				return err
			}
			if s == before[ep] {
				return fmt.Errorf("%s still serves serial %s", ep, s)
			}
		}
		return nil
	}).WithContext(ctx).WithTimeout(4 * time.Minute).WithPolling(3 * time.Second).Should(Succeed())
}
