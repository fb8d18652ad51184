package admission

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Issue #15 item 5: an EtcdUser named root, an empty or reversed range, an
// unknown permission or authentication are refused with a message naming
// the field; the good inputs next to them are accepted and defaulted.
var _ = Describe("EtcdUser admission", func() {
	user := func(name string, spec map[string]any) *unstructured.Unstructured {
		meta := map[string]any{"namespace": "default"}
		if name == "" {
			meta["generateName"] = "app-"
		} else {
			meta["name"] = name
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": etcdv1.GroupVersion.String(), "kind": "EtcdUser", "metadata": meta, "spec": spec}}
	}
	perm := func(kv ...string) map[string]any {
		p := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	spec := func(perms ...map[string]any) map[string]any {
		ps := []any{}
		for _, p := range perms {
			ps = append(ps, p)
		}
		return map[string]any{"clusterName": "db", "permissions": ps}
	}
	with := func(s map[string]any, k string, v any) map[string]any { s[k] = v; return s }
	rw := perm("prefix", "/app/", "permission", "readwrite")

	DescribeTable("refuses",
		func(ctx SpecContext, u *unstructured.Unstructured, messages ...string) {
			err := k8s.Create(ctx, u)
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "not a validation error: %v", err)
			for _, m := range messages {
				Expect(err.Error()).To(ContainSubstring(m))
			}
		},
		Entry("the name root", user("root", spec(rw)), "root is etcd's superuser and belongs to the operator"),
		Entry("no permissions", user("", spec()), "spec.permissions", "at least 1 items"),
		Entry("no cluster", user("", map[string]any{"permissions": []any{rw}}), "spec.clusterName: Required value"),
		Entry("an empty prefix", user("", spec(perm("prefix", "", "permission", "read"))), "spec.permissions[0].prefix", "at least 1 chars"),
		Entry("an empty key", user("", spec(perm("key", "", "permission", "read"))), "spec.permissions[0].key", "at least 1 chars"),
		Entry("neither prefix nor key", user("", spec(perm("permission", "read"))), "spec.permissions[0]", "give exactly one of prefix and key"),
		Entry("both prefix and key", user("", spec(perm("prefix", "/a/", "key", "/a", "permission", "read"))), "give exactly one of prefix and key"),
		Entry("a range end before the key", user("", spec(perm("key", "/b", "rangeEnd", "/a", "permission", "read"))),
			"spec.permissions[0].rangeEnd", "rangeEnd /a must sort after key /b: the range is [key, rangeEnd)"),
		Entry("a range end equal to the key", user("", spec(perm("key", "/b", "rangeEnd", "/b", "permission", "read"))), "rangeEnd /b must sort after key /b"),
		Entry("a range end with a prefix", user("", spec(perm("prefix", "/a/", "rangeEnd", "/b", "permission", "read"))),
			"spec.permissions[0].rangeEnd", "rangeEnd goes with key"),
		Entry("an unknown permission", user("", spec(perm("prefix", "/a/", "permission", "admin"))),
			`spec.permissions[0].permission: Unsupported value: "admin"`, `"read", "write", "readwrite"`),
		Entry("no permission", user("", spec(perm("prefix", "/a/"))), "spec.permissions[0].permission: Required value"),
		Entry("the same prefix twice", user("", spec(perm("prefix", "/a/", "permission", "read"), rw, perm("prefix", "/a/", "permission", "write"))),
			"spec.permissions", "a range is listed twice"),
		Entry("the same key range twice", user("", spec(perm("key", "/a", "rangeEnd", "/b", "permission", "read"), perm("key", "/a", "rangeEnd", "/b", "permission", "read"))),
			"a range is listed twice"),
		Entry("an unknown authentication", user("", with(spec(rw), "authentication", "kerberos")),
			`spec.authentication: Unsupported value: "kerberos"`, `"certificate", "password"`),
	)

	It("accepts good users, defaults certificate authentication, and keeps the cluster and the authentication fixed", func(ctx SpecContext) {
		for _, s := range []map[string]any{
			spec(rw),
			spec(perm("key", "/cfg", "permission", "read"), perm("key", "/a", "rangeEnd", "/b", "permission", "write")),
			// the same key alone and as the start of a range are two ranges
			spec(perm("key", "/a", "permission", "read"), perm("key", "/a", "rangeEnd", "/b", "permission", "write"), perm("prefix", "/a", "permission", "read")),
			with(spec(rw), "authentication", "password"),
		} {
			u := user("", s)
			Expect(k8s.Create(ctx, u)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, u))).To(Succeed()) })
		}
		u := user("", spec(rw))
		Expect(k8s.Create(ctx, u)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, u))).To(Succeed()) })
		got := &etcdv1.EtcdUser{}
		Expect(get(ctx, "default", u.GetName(), got)()).To(Succeed())
		Expect(got.Spec.Authentication).To(Equal(etcdv1.AuthenticationCertificate))

		for _, body := range []map[string]any{
			{"spec": map[string]any{"clusterName": "other"}},
			{"spec": map[string]any{"authentication": "password"}},
		} {
			raw, err := json.Marshal(body)
			Expect(err).NotTo(HaveOccurred())
			err = k8s.Patch(ctx, u.DeepCopy(), client.RawPatch(types.MergePatchType, raw))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "patch %v: %v", body, err)
			Expect(err.Error()).To(ContainSubstring("immutable: create a new EtcdUser"))
		}
		raw, _ := json.Marshal(map[string]any{"spec": map[string]any{"permissions": []any{perm("prefix", "/app/", "permission", "read")}}})
		Expect(k8s.Patch(ctx, u.DeepCopy(), client.RawPatch(types.MergePatchType, raw))).To(Succeed(), "permissions change")
	})
})
