package admission

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Issue #12 item 5: spec.auth.token. Unknown token types and TTLs out of
// 1m..24h are refused with a message naming the field; etcd's own
// auth-token options are refused in etcdOptions, pointing at the field.
var _ = Describe("auth tokens", func() {
	cluster := func(auth map[string]any, options map[string]any) *unstructured.Unstructured {
		spec := map[string]any{}
		if auth != nil {
			spec["auth"] = auth
		}
		if options != nil {
			spec["etcdOptions"] = options
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": etcdv1.GroupVersion.String(), "kind": "EtcdCluster",
			"metadata": map[string]any{"generateName": "tok-", "namespace": "default"},
			"spec":     spec}}
	}
	token := func(kv ...any) map[string]any {
		t := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			t[kv[i].(string)] = kv[i+1]
		}
		return map[string]any{"token": t}
	}
	create := func(ctx SpecContext, u *unstructured.Unstructured) *etcdv1.EtcdCluster {
		GinkgoHelper()
		Expect(k8s.Create(ctx, u)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, u))).To(Succeed()) })
		c := &etcdv1.EtcdCluster{}
		Expect(get(ctx, "default", u.GetName(), c)()).To(Succeed())
		return c
	}

	DescribeTable("refuses",
		func(ctx SpecContext, u *unstructured.Unstructured, messages ...string) {
			err := k8s.Create(ctx, u)
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "not a validation error: %v", err)
			for _, m := range messages {
				Expect(err.Error()).To(ContainSubstring(m))
			}
		},
		Entry("an unknown token type", cluster(token("type", "oauth"), nil), `spec.auth.token.type: Unsupported value: "oauth"`, `"jwt", "simple"`),
		Entry("a token type in capitals", cluster(token("type", "JWT"), nil), `spec.auth.token.type: Unsupported value: "JWT"`),
		Entry("an empty token type", cluster(token("type", ""), nil), `spec.auth.token.type: Unsupported value: ""`),
		Entry("a TTL under a minute", cluster(token("ttl", "59s"), nil), "spec.auth.token.ttl", "ttl 59s is out of bounds: a token lives from 1m to 24h"),
		Entry("a TTL over a day", cluster(token("type", "simple", "ttl", "24h1s"), nil), "spec.auth.token.ttl", "ttl 24h1s is out of bounds"),
		Entry("a TTL of zero", cluster(token("ttl", "0s"), nil), "ttl 0s is out of bounds"),
		Entry("a TTL in days", cluster(token("ttl", "1d"), nil), "spec.auth.token.ttl in body should match"),
		Entry("a TTL in words", cluster(token("ttl", "5 minutes"), nil), "spec.auth.token.ttl in body should match"),
		Entry("a negative TTL", cluster(token("ttl", "-5m"), nil), "spec.auth.token.ttl in body should match"),
		Entry("a TTL as a number", cluster(token("ttl", 300), nil), "spec.auth.token.ttl: Invalid value", "string"),
		Entry("etcd's auth-token option", cluster(nil, map[string]any{"auth-token": "jwt,sign-method=HS256"}),
			"etcdOptions may not set options the operator controls: auth-token: set with spec.auth.token"),
		Entry("etcd's auth-token-ttl option", cluster(nil, map[string]any{"auth-token-ttl": "600"}),
			"etcdOptions may not set options the operator controls: auth-token-ttl: set with spec.auth.token"),
	)

	DescribeTable("accepts",
		func(ctx SpecContext, auth map[string]any, wantType etcdv1.AuthTokenType, wantTTL time.Duration) {
			c := create(ctx, cluster(auth, nil))
			Expect(c.Spec.Auth.Token.Type).To(Equal(wantType))
			Expect(c.Spec.Auth.Token.TTL).NotTo(BeNil())
			Expect(c.Spec.Auth.Token.TTL.Duration).To(Equal(wantTTL))
		},
		Entry("nothing: jwt with etcd's 5m", nil, etcdv1.AuthTokenJWT, 5*time.Minute),
		Entry("another auth field only: the token is still defaulted", map[string]any{"rootPasswordSecretName": "mine"}, etcdv1.AuthTokenJWT, 5*time.Minute),
		Entry("simple tokens", token("type", "simple"), etcdv1.AuthTokenSimple, 5*time.Minute),
		Entry("simple for the shortest TTL", token("type", "simple", "ttl", "1m"), etcdv1.AuthTokenSimple, time.Minute),
		Entry("jwt for the longest TTL", token("type", "jwt", "ttl", "24h"), etcdv1.AuthTokenJWT, 24*time.Hour),
		Entry("a TTL of several units", token("ttl", "1h30m"), etcdv1.AuthTokenJWT, 90*time.Minute),
		Entry("a TTL in milliseconds", token("ttl", "60000ms"), etcdv1.AuthTokenJWT, time.Minute),
		Entry("a fractional TTL", token("ttl", "1.5h"), etcdv1.AuthTokenJWT, 90*time.Minute),
	)
})
