package admission

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Issue #13 item 4: spec.service and spec.tls.extraSANs. Fields that do not
// apply to the Service type, node ports outside 30000-32767, source ranges
// that are not CIDRs and SANs that are neither DNS names nor IPs are
// refused with a message naming the field; the good inputs are accepted.
var _ = Describe("exposure", func() {
	cluster := func(spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": etcdv1.GroupVersion.String(), "kind": "EtcdCluster",
			"metadata": map[string]any{"generateName": "exp-", "namespace": "default"},
			"spec":     spec}}
	}
	svc := func(kv ...any) map[string]any {
		s := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			s[kv[i].(string)] = kv[i+1]
		}
		return map[string]any{"service": s}
	}
	sans := func(names ...any) map[string]any {
		return map[string]any{"tls": map[string]any{"extraSANs": names}}
	}

	DescribeTable("refuses",
		func(ctx SpecContext, spec map[string]any, messages ...string) {
			err := k8s.Create(ctx, cluster(spec))
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "not a validation error: %v", err)
			for _, m := range messages {
				Expect(err.Error()).To(ContainSubstring(m))
			}
		},
		Entry("an unknown type", svc("type", "ExternalName"), "spec.service.type", "Unsupported value"),
		Entry("nodePort with the default ClusterIP", svc("nodePort", 31000),
			"spec.service.nodePort", "service.nodePort applies only to type NodePort or LoadBalancer"),
		Entry("nodePort with ClusterIP", svc("type", "ClusterIP", "nodePort", 31000),
			"service.nodePort applies only to type NodePort or LoadBalancer"),
		Entry("nodePort below the range", svc("type", "NodePort", "nodePort", 2379), "spec.service.nodePort", "greater than or equal to 30000"),
		Entry("nodePort above the range", svc("type", "NodePort", "nodePort", 32768), "spec.service.nodePort", "less than or equal to 32767"),
		Entry("loadBalancerSourceRanges with NodePort", svc("type", "NodePort", "loadBalancerSourceRanges", []any{"198.18.0.0/15"}),
			"spec.service.loadBalancerSourceRanges", "service.loadBalancerSourceRanges applies only to type LoadBalancer"),
		Entry("a source range that is not a CIDR", svc("type", "LoadBalancer", "loadBalancerSourceRanges", []any{"198.18.0.0/15", "198.18.0.1"}),
			"service.loadBalancerSourceRanges entry 198.18.0.1 is not a CIDR"),
		Entry("externalTrafficPolicy with ClusterIP", svc("externalTrafficPolicy", "Local"),
			"spec.service.externalTrafficPolicy", "service.externalTrafficPolicy applies only to type NodePort or LoadBalancer"),
		Entry("an unknown externalTrafficPolicy", svc("type", "NodePort", "externalTrafficPolicy", "Nearest"),
			"spec.service.externalTrafficPolicy", "Unsupported value"),
		Entry("a SAN with upper case", sans("etcd.example.com", "Etcd.Example.com"),
			"spec.tls.extraSANs", "tls.extraSANs entry Etcd.Example.com is neither a DNS name"),
		Entry("a SAN with a port", sans("etcd.example.com:2379"), "tls.extraSANs entry etcd.example.com:2379 is neither"),
		Entry("a SAN that is a URL", sans("https://etcd.example.com"), "tls.extraSANs entry https://etcd.example.com is neither"),
		Entry("a wildcard not leading", sans("etcd.*.example.com"), "tls.extraSANs entry etcd.*.example.com is neither"),
		Entry("a CIDR as SAN", sans("198.18.0.0/15"), "tls.extraSANs entry 198.18.0.0/15 is neither"),
		Entry("a label of 64 characters", sans(strings.Repeat("a", 64)+".example.com"), "is neither a DNS name"),
		Entry("a repeated SAN", sans("etcd.example.com", "etcd.example.com"), "spec.tls.extraSANs", "Duplicate value"),
		Entry("extraSANs with the user's own certificates", map[string]any{"tls": map[string]any{
			"serverSecretName": "s", "peerSecretName": "p", "clientSecretName": "c", "extraSANs": []any{"etcd.example.com"}}},
			"spec.tls.extraSANs", "tls.extraSANs applies to certificates the operator issues"),
		Entry("extraSANs without TLS", map[string]any{"tls": map[string]any{"enabled": false, "extraSANs": []any{"etcd.example.com"}}},
			"spec.tls.extraSANs", "tls.extraSANs needs tls.enabled"),
	)

	DescribeTable("accepts",
		func(ctx SpecContext, spec map[string]any, check func(*etcdv1.EtcdCluster)) {
			u := cluster(spec)
			Expect(k8s.Create(ctx, u)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, u))).To(Succeed()) })
			c := &etcdv1.EtcdCluster{}
			Expect(get(ctx, "default", u.GetName(), c)()).To(Succeed())
			check(c)
		},
		Entry("nothing: ClusterIP once service is written", svc(), func(c *etcdv1.EtcdCluster) {
			Expect(string(c.Spec.Service.Type)).To(Equal("ClusterIP"))
		}),
		Entry("ClusterIP with annotations", svc("annotations", map[string]any{"example.com/x": "y"}), func(c *etcdv1.EtcdCluster) {
			Expect(c.Spec.Service.Annotations).To(HaveKeyWithValue("example.com/x", "y"))
		}),
		Entry("NodePort with a fixed port at the bottom of the range and Local", svc("type", "NodePort", "nodePort", 30000, "externalTrafficPolicy", "Local"), func(c *etcdv1.EtcdCluster) {
			Expect(*c.Spec.Service.NodePort).To(Equal(int32(30000)))
		}),
		Entry("NodePort at the top of the range", svc("type", "NodePort", "nodePort", 32767), func(c *etcdv1.EtcdCluster) {
			Expect(*c.Spec.Service.NodePort).To(Equal(int32(32767)))
		}),
		Entry("LoadBalancer with everything", svc("type", "LoadBalancer", "nodePort", 31000, "externalTrafficPolicy", "Cluster",
			"loadBalancerSourceRanges", []any{"198.18.0.0/15", "2001:db8::/32"}, "annotations", map[string]any{"lb": "internal"}), func(c *etcdv1.EtcdCluster) {
			Expect(c.Spec.Service.LoadBalancerSourceRanges).To(HaveLen(2))
		}),
		Entry("SANs: names, a wildcard, IPv4 and IPv6", sans("etcd.example.com", "*.etcd.example.com", "localhost2", "198.18.0.2", "2001:db8::1"), func(c *etcdv1.EtcdCluster) {
			Expect(c.Spec.TLS.ExtraSANs).To(HaveLen(5))
		}),
	)
})
