package admission

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// The credential modes of an S3 location (issue #16): exactly one of a
// Secret, a web identity and an instance role, checked wherever a location
// appears (backup destination, schedule template, restore source, a
// cluster's bootstrap restore).
var _ = Describe("S3 credential modes", func() {
	const exactlyOne = "set exactly one of credentialsSecretName (a Secret with static keys), webIdentity (a service account token exchanged at STS) and instanceRole (the cloud identity of the node or pod)"
	s3 := func(creds map[string]any) map[string]any {
		loc := map[string]any{"endpoint": "s3.eu-west-1.amazonaws.com", "bucket": "bkt"}
		for k, v := range creds {
			loc[k] = v
		}
		return loc
	}
	secret := map[string]any{"credentialsSecretName": "creds"}
	web := map[string]any{"webIdentity": map[string]any{"serviceAccountName": "etcd-backup", "roleARN": "arn:aws:iam::123456789012:role/etcd-backup"}}
	instance := map[string]any{"instanceRole": map[string]any{}}
	merge := func(ms ...map[string]any) map[string]any {
		out := map[string]any{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	webWith := func(field string, value any) map[string]any {
		w := map[string]any{"serviceAccountName": "etcd-backup"}
		if field != "" {
			w[field] = value
		}
		return map[string]any{"webIdentity": w}
	}
	// objects puts the location in every kind that holds one.
	objects := func(loc map[string]any) []*unstructured.Unstructured {
		obj := func(kind string, spec map[string]any) *unstructured.Unstructured {
			return &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": etcdv1.GroupVersion.String(), "kind": kind,
				"metadata": map[string]any{"generateName": "s3c-", "namespace": "default"}, "spec": spec}}
		}
		backup := map[string]any{"clusterName": "db", "destination": map[string]any{"s3": loc}}
		return []*unstructured.Unstructured{
			obj("EtcdBackup", backup),
			obj("EtcdBackupSchedule", map[string]any{"schedule": "0 3 * * *", "backupTemplate": backup}),
			obj("EtcdRestore", map[string]any{"clusterName": "db", "source": map[string]any{"s3": loc}, "key": "k.db"}),
			obj("EtcdCluster", map[string]any{
				"bootstrap": map[string]any{"restore": map[string]any{"source": map[string]any{"s3": loc}, "key": "k.db"}}}),
		}
	}

	DescribeTable("accepts one mode",
		func(ctx SpecContext, creds map[string]any) {
			for _, o := range objects(s3(creds)) {
				Expect(k8s.Create(ctx, o)).To(Succeed(), o.GetKind())
				DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, o))).To(Succeed()) })
			}
		},
		Entry("a Secret", secret),
		Entry("a web identity", web),
		Entry("a web identity without role, with audience, STS endpoint and token life",
			map[string]any{"webIdentity": map[string]any{"serviceAccountName": "sa", "audience": "sts.minio", "stsEndpoint": "http://minio:9000", "expirationSeconds": int64(600)}}),
		Entry("an instance role", instance),
		Entry("an instance role with service account and metadata endpoint",
			map[string]any{"instanceRole": map[string]any{"serviceAccountName": "pod-identity", "endpoint": "http://198.18.0.1:1338"}}),
	)

	DescribeTable("refuses",
		func(ctx SpecContext, creds map[string]any, message string) {
			for _, o := range objects(s3(creds)) {
				err := k8s.Create(ctx, o)
				if err == nil {
					DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8s.Delete(ctx, o))).To(Succeed()) })
				}
				Expect(err).To(HaveOccurred(), o.GetKind())
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "not a validation error: %v", err)
				Expect(err.Error()).To(ContainSubstring(message), o.GetKind())
			}
		},
		Entry("none", map[string]any{}, exactlyOne),
		Entry("a Secret and a web identity", merge(secret, web), exactlyOne),
		Entry("a Secret and an instance role", merge(secret, instance), exactlyOne),
		Entry("a web identity and an instance role", merge(web, instance), exactlyOne),
		Entry("all three", merge(secret, web, instance), exactlyOne),
		Entry("a web identity without service account", map[string]any{"webIdentity": map[string]any{"roleARN": "arn:aws:iam::1:role/r"}}, "webIdentity.serviceAccountName: Required value"),
		Entry("an empty service account", webWith("serviceAccountName", ""), "webIdentity.serviceAccountName in body should be at least 1 chars long"),
		Entry("an STS endpoint without scheme", webWith("stsEndpoint", "sts.amazonaws.com"), "stsEndpoint sts.amazonaws.com must be an http:// or https:// URL"),
		Entry("a token life under 10 minutes", webWith("expirationSeconds", int64(599)), "webIdentity.expirationSeconds in body should be greater than or equal to 600"),
		Entry("a metadata endpoint without scheme", map[string]any{"instanceRole": map[string]any{"endpoint": "169.254.169.254"}}, "endpoint 169.254.169.254 must be an http:// or https:// URL"),
	)
})
