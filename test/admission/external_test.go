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

// Issue #13 item 3: an EtcdBackup (or a schedule's template) of an etcd
// this operator does not manage, spec.external. Exactly one of clusterName
// and external; endpoints are http(s)://host:port of one scheme; https
// needs tls.secretName, http takes none.
var _ = Describe("external backup source", func() {
	dest := map[string]any{"pvc": map[string]any{"claimName": "backups"}}
	ext := func(mut func(e map[string]any)) map[string]any {
		e := map[string]any{"endpoints": []any{"https://etcd-0.etcd-headless.old.svc:2379", "https://etcd-1.etcd-headless.old.svc:2379"},
			"tls": map[string]any{"secretName": "etcd-client-tls"}, "auth": map[string]any{"secretName": "etcd-root"}}
		if mut != nil {
			mut(e)
		}
		return e
	}
	endpoints := func(eps ...any) func(map[string]any) { return func(e map[string]any) { e["endpoints"] = eps } }
	backup := func(extra ...any) map[string]any {
		spec := map[string]any{"destination": dest}
		for i := 0; i+1 < len(extra); i += 2 {
			spec[extra[i].(string)] = extra[i+1]
		}
		return spec
	}
	object := func(kind string, spec map[string]any) *unstructured.Unstructured {
		if kind == "EtcdBackupSchedule" {
			spec = map[string]any{"schedule": "@daily", "backupTemplate": spec}
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": etcdv1.GroupVersion.String(), "kind": kind,
			"metadata": map[string]any{"generateName": "ext-", "namespace": "default"}, "spec": spec}}
	}

	DescribeTable("refuses a bad external source in both kinds",
		func(ctx SpecContext, spec map[string]any, message string) {
			for _, kind := range []string{"EtcdBackup", "EtcdBackupSchedule"} {
				err := k8s.Create(ctx, object(kind, spec))
				Expect(err).To(HaveOccurred(), kind)
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: not a validation error: %v", kind, err)
				Expect(err.Error()).To(ContainSubstring(message), kind)
			}
		},
		Entry("both clusterName and external", backup("clusterName", "db", "external", ext(nil)),
			"set exactly one of clusterName (an EtcdCluster in this namespace) and external (an etcd this operator does not manage)"),
		Entry("neither", backup(), "set exactly one of clusterName"),
		Entry("an empty endpoint list", backup("external", ext(endpoints())), "external.endpoints: Required value"),
		Entry("endpoints missing", backup("external", map[string]any{"tls": map[string]any{"secretName": "t"}}), "external.endpoints: Required value"),
		Entry("17 endpoints", backup("external", ext(endpoints(func() []any {
			var eps []any
			for i := range 17 {
				eps = append(eps, "https://etcd-"+strings.Repeat("x", i)+":2379")
			}
			return eps
		}()...))), "must have at most 16 items"),
		Entry("the same endpoint twice", backup("external", ext(endpoints("https://etcd:2379", "https://etcd:2379"))), "Duplicate value"),
		Entry("no scheme", backup("external", ext(endpoints("etcd-0.etcd:2379"))),
			"endpoint etcd-0.etcd:2379 must be http://host:port or https://host:port"),
		Entry("no port", backup("external", ext(endpoints("https://etcd-0.etcd"))),
			"endpoint https://etcd-0.etcd must be http://host:port or https://host:port"),
		Entry("a path", backup("external", ext(endpoints("https://etcd:2379/v3"))), "(a DNS name or IP address and a port, no path)"),
		Entry("a unix socket", backup("external", ext(endpoints("unix:///run/etcd.sock"))), "must be http://host:port or https://host:port"),
		Entry("port 0", backup("external", ext(endpoints("https://etcd:0"))), "endpoint https://etcd:0 has port 0: a port is 1-65535"),
		Entry("port above 65535", backup("external", ext(endpoints("https://[fd00::7]:70000"))), "has port 70000: a port is 1-65535"),
		Entry("mixed schemes", backup("external", ext(endpoints("https://etcd-0:2379", "http://etcd-1:2379"))), "endpoints mix http:// and https://"),
		Entry("https without tls", backup("external", ext(func(e map[string]any) { delete(e, "tls") })),
			"https:// endpoints need tls.secretName: a Secret with ca.crt"),
		Entry("http with tls", backup("external", ext(endpoints("http://etcd-0:2379"))),
			"tls is set but the endpoints are http://: use the https:// client URLs, or drop tls"),
		Entry("tls without a Secret", backup("external", ext(func(e map[string]any) { e["tls"] = map[string]any{} })), "tls.secretName: Required value"),
		Entry("auth with an empty Secret name", backup("external", ext(func(e map[string]any) { e["auth"] = map[string]any{"secretName": ""} })),
			"auth.secretName in body should be at least 1 chars long"),
	)

	DescribeTable("accepts a good external source in both kinds",
		func(ctx SpecContext, spec map[string]any) {
			for _, kind := range []string{"EtcdBackup", "EtcdBackupSchedule"} {
				u := object(kind, spec)
				Expect(k8s.Create(ctx, u)).To(Succeed(), kind)
				DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, u))).To(Succeed()) })
			}
		},
		Entry("https with TLS and auth", backup("external", ext(nil))),
		Entry("https with TLS only", backup("external", ext(func(e map[string]any) { delete(e, "auth") }))),
		Entry("http with auth", backup("external", ext(func(e map[string]any) {
			delete(e, "tls")
			e["endpoints"] = []any{"http://198.18.0.7:2379"}
		}))),
		Entry("plain http, no auth", backup("external", map[string]any{"endpoints": []any{"http://etcd:2379"}})),
		Entry("IPv6 members", backup("external", ext(endpoints("https://[fd00::7]:2379", "https://[fd00::8]:2379", "https://[fd00::9]:65535")))),
		Entry("a cluster, as before", backup("clusterName", "db")),
	)
})
