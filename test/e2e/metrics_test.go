//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// The operator's metrics endpoint (https on :8443, controller-runtime's
// authentication and authorization filter) serves only a token allowed to
// get /metrics: the chart's metrics-reader ClusterRole.
var _ = Describe("Operator metrics", func() {
	It("are served over https to a token bound to the metrics-reader role, and refused without a token or without the role", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		// A cluster whose image does not exist: reconciled, no member runs.
		createCluster(ctx, ns, "scraped", 3, func(c *etcdv1.EtcdCluster) { c.Spec.Version = "3.7.99" })

		pods := &corev1.PodList{}
		Expect(k8s.List(ctx, pods, client.InNamespace(operatorNamespace), client.MatchingLabels{"app.kubernetes.io/name": "quorum-operator"})).To(Succeed())
		var ip string
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && p.Status.PodIP != "" {
				ip = p.Status.PodIP
			}
		}
		Expect(ip).NotTo(BeEmpty(), "no running operator pod")
		url := fmt.Sprintf("https://%s:8443/metrics", ip)
		// The certificate is self-signed: the token is what is checked.
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		get := func(token string) (int, string) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			Expect(err).NotTo(HaveOccurred())
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := hc.Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			Expect(err).NotTo(HaveOccurred())
			return resp.StatusCode, string(body)
		}

		By("refusing a request without a token")
		code, _ := get("")
		Expect(code).To(Equal(http.StatusUnauthorized))

		By("refusing a token without the metrics-reader role")
		code, _ = get(serviceAccountToken(ctx, ns, "stranger"))
		Expect(code).To(Equal(http.StatusForbidden))

		By("serving a token bound to the metrics-reader role")
		token := serviceAccountToken(ctx, ns, "scraper")
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-metrics-reader-"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: release + "-metrics-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "scraper", Namespace: ns}},
		}
		Expect(k8s.Create(ctx, binding)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, binding))).To(Succeed()) })
		want := fmt.Sprintf(`quorum_etcdcluster_desired_members{etcd_cluster="scraped",namespace=%q} 3`, ns)
		Eventually(func(g Gomega) {
			code, body := get(token)
			g.Expect(code).To(Equal(http.StatusOK))
			g.Expect(body).To(ContainSubstring(`controller_runtime_reconcile_total{controller="etcdcluster"`))
			g.Expect(body).To(ContainSubstring(want))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	})
})

// serviceAccountToken creates ServiceAccount ns/name and returns a
// ten-minute token for it (TokenRequest).
func serviceAccountToken(ctx context.Context, ns, name string) string {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	ExpectWithOffset(1, k8s.Create(ctx, sa)).To(Succeed())
	tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return tr.Status.Token
}
