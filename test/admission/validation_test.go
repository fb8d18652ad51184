package admission

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Every bad spec is submitted to the real API server and must be refused
// at admission with a message that says what is wrong.
var _ = Describe("EtcdCluster admission", func() {
	create := func(ctx SpecContext, spec map[string]any) error {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "etcd.quorum.dev/v1alpha1", "kind": "EtcdCluster",
			"metadata": map[string]any{"generateName": "bad-", "namespace": "default"},
			"spec":     spec,
		}}
		return k8s.Create(ctx, u)
	}

	DescribeTable("refuses a bad spec on create",
		func(ctx SpecContext, spec map[string]any, message string) {
			err := create(ctx, spec)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("zero replicas", map[string]any{"replicas": 0}, "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"),
		Entry("negative replicas", map[string]any{"replicas": -3}, "should be greater than or equal to 1"),
		Entry("too many replicas", map[string]any{"replicas": 11}, "should be less than or equal to 9"),
		Entry("reserved etcd option", map[string]any{"etcdOptions": map[string]any{"initial-cluster-state": "new"}}, "etcdOptions may not set options the operator controls"),
		Entry("reserved TLS option", map[string]any{"etcdOptions": map[string]any{"cert-file": "/x"}}, "etcdOptions may not set options the operator controls"),
		Entry("malformed version", map[string]any{"version": "latest"}, "spec.version in body should match"),
		Entry("absurd version", map[string]any{"version": "3.99999999999999999999.0"}, "spec.version: Too long"),
		Entry("not a version", map[string]any{"version": "abc"}, "spec.version in body should match"),
		Entry("etcd 2", map[string]any{"version": "2.3.8"}, "spec.version in body should match"),
		Entry("malformed size", map[string]any{"storage": map[string]any{"size": "lots"}}, "spec.storage.size"),
		Entry("unknown medium", map[string]any{"storage": map[string]any{"medium": "Tape"}}, `Unsupported value: "Tape"`),
		Entry("class with emptyDir", map[string]any{"storage": map[string]any{"medium": "EmptyDir", "storageClassName": "fast"}}, "storageClassName applies only to medium PersistentVolume"),
		Entry("bad retention", map[string]any{"compaction": map[string]any{"retention": "one hour"}}, "spec.compaction.retention in body should match"),
		Entry("bad compaction mode", map[string]any{"compaction": map[string]any{"mode": "sometimes"}}, `Unsupported value: "sometimes"`),
		Entry("malformed quota", map[string]any{"quota": map[string]any{"backendBytes": "2 gigs"}}, "spec.quota.backendBytes"),
		Entry("rollout deadline too short", map[string]any{"rollout": map[string]any{"progressDeadlineSeconds": 5}}, "spec.rollout.progressDeadlineSeconds in body should be greater than or equal to 30"),
		Entry("negative minReadySeconds", map[string]any{"rollout": map[string]any{"minReadySeconds": -1}}, "spec.rollout.minReadySeconds in body should be greater than or equal to 0"),
		Entry("rollout deadline too long", map[string]any{"rollout": map[string]any{"progressDeadlineSeconds": 86400}}, "spec.rollout.progressDeadlineSeconds in body should be less than or equal to 3600"),
	)

	It("accepts a storage size written back in canonical form", func(ctx SpecContext) {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "etcd.quorum.dev/v1alpha1", "kind": "EtcdCluster",
			"metadata": map[string]any{"generateName": "size-", "namespace": "default"},
			"spec":     map[string]any{"storage": map[string]any{"size": "1024Mi"}},
		}}
		Expect(k8s.Create(ctx, u)).To(Succeed())
		c := &etcdv1.EtcdCluster{}
		Expect(get(ctx, "default", u.GetName(), c)()).To(Succeed())
		Expect(c.Spec.Storage.Size.String()).To(Equal("1Gi"))
		c.Spec.Replicas = ptr.To[int32](1)
		Expect(k8s.Update(ctx, c)).To(Succeed(), "a typed client writes 1024Mi back as 1Gi")
	})

	It("refuses names that cannot name Services, pods and claims", func(ctx SpecContext) {
		for _, name := range []string{"a.b", strings.Repeat("x", 49), "-x"} {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "etcd.quorum.dev/v1alpha1", "kind": "EtcdCluster",
				"metadata": map[string]any{"name": name, "namespace": "default"},
				"spec":     map[string]any{},
			}}
			err := k8s.Create(ctx, u)
			Expect(err).To(HaveOccurred(), name)
			Expect(err.Error()).To(Or(ContainSubstring("the name must be a DNS label of at most 48 characters"), ContainSubstring("metadata.name")), name)
		}
	})

	It("refuses an EtcdBackup without a spec, also by removing it", func(ctx SpecContext) {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "etcd.quorum.dev/v1alpha1", "kind": "EtcdBackup",
			"metadata": map[string]any{"generateName": "nospec-", "namespace": "default"},
		}}
		err := k8s.Create(ctx, u)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec: Required value"))

		b := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{GenerateName: "b-", Namespace: "default"}, Spec: etcdv1.EtcdBackupSpec{
			ClusterName: "x", Destination: etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "c"}}}}
		Expect(k8s.Create(ctx, b)).To(Succeed())
		err = k8s.Patch(ctx, b, client.RawPatch(types.MergePatchType, []byte(`{"spec":null}`)))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec: Required value"))
	})

	It("refuses changes to immutable fields and downgrades of more than one minor", func(ctx SpecContext) {
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{GenerateName: "imm-", Namespace: "default"},
			Spec: etcdv1.EtcdClusterSpec{Version: "3.7.3", Storage: etcdv1.StorageSpec{StorageClassName: ptr.To("standard")}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())

		try := func(mutate func(*etcdv1.EtcdCluster), message string) {
			fresh := &etcdv1.EtcdCluster{}
			Expect(get(ctx, c.Namespace, c.Name, fresh)()).To(Succeed())
			before := fresh.DeepCopy()
			mutate(fresh)
			// A patch carries no resourceVersion: only admission can refuse it.
			err := k8s.Patch(ctx, fresh, client.MergeFrom(before))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		}
		try(func(c *etcdv1.EtcdCluster) { c.Spec.Storage.Medium = etcdv1.StorageMemory }, "storage.medium is immutable")
		try(func(c *etcdv1.EtcdCluster) { q := resource.MustParse("512Mi"); c.Spec.Storage.Size = &q }, "storage.size may grow but not shrink: 1Gi to 512Mi")
		try(func(c *etcdv1.EtcdCluster) { c.Spec.Storage.StorageClassName = ptr.To("fast") }, "storageClassName is immutable")
		try(func(c *etcdv1.EtcdCluster) { c.Spec.Version = "3.6.16" }, "minor version downgrades are not supported")
		try(func(c *etcdv1.EtcdCluster) { c.Spec.Version = "3.9.0" }, "may go up by one minor version at a time")

		setVersion := func(v string) error {
			fresh := &etcdv1.EtcdCluster{}
			Expect(get(ctx, c.Namespace, c.Name, fresh)()).To(Succeed())
			before := fresh.DeepCopy()
			fresh.Spec.Version = v
			return k8s.Patch(ctx, fresh, client.MergeFrom(before))
		}
		Expect(setVersion("3.7.1")).To(Succeed(), "a patch downgrade is allowed")
		Expect(setVersion("3.8.0")).To(Succeed(), "a one-minor upgrade is allowed")
	})

	It("counts minor versions from what the members run: a blocked upgrade is reverted, never skipped past", func(ctx SpecContext) {
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{GenerateName: "ver-", Namespace: "default"}, Spec: etcdv1.EtcdClusterSpec{Version: "3.7.3"}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		running := func(versions ...string) {
			fresh := &etcdv1.EtcdCluster{}
			Expect(get(ctx, c.Namespace, c.Name, fresh)()).To(Succeed())
			fresh.Status.Members = nil
			for i, v := range versions {
				fresh.Status.Members = append(fresh.Status.Members, etcdv1.MemberStatus{Name: fmt.Sprintf("m-%d", i), Version: v, Healthy: true})
			}
			Expect(k8s.Status().Update(ctx, fresh)).To(Succeed())
		}
		setVersion := func(v string) error {
			fresh := &etcdv1.EtcdCluster{}
			Expect(get(ctx, c.Namespace, c.Name, fresh)()).To(Succeed())
			before := fresh.DeepCopy()
			fresh.Spec.Version = v
			return k8s.Patch(ctx, fresh, client.MergeFrom(before))
		}
		running("3.7.3", "3.7.3", "3.7.3")
		Expect(setVersion("3.8.0")).To(Succeed(), "one minor up")
		By("3.8.0 is blocked: every member still runs 3.7")
		err := setVersion("3.9.0")
		Expect(err).To(HaveOccurred(), "a second minor while the members run 3.7")
		Expect(err.Error()).To(ContainSubstring("counted from the previous spec.version and from the version each member runs"))
		Expect(setVersion("3.8.1")).To(Succeed(), "another patch of the same minor")
		Expect(setVersion("3.7.3")).To(Succeed(), "the revert to what the members run")

		By("a rollout half done: one member on 3.8, the cluster version still 3.7")
		Expect(setVersion("3.8.0")).To(Succeed())
		running("3.7.3", "3.7.3", "3.8.0")
		Expect(setVersion("3.7.3")).To(Succeed(), "the revert of a stuck upgrade while a member runs 3.7")

		By("every member on 3.8: etcd's cluster version has moved")
		Expect(setVersion("3.8.0")).To(Succeed())
		running("3.8.0", "3.8.0", "3.8.0")
		err = setVersion("3.7.3")
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("minor version downgrades are not supported once no member runs the older minor"))
		Expect(setVersion("3.9.0")).To(Succeed(), "one minor up from 3.8")

		By("a status written while the spec stays is never refused, whatever the members run")
		running("3.6.16", "3.8.0", "3.9.0")
	})
})
