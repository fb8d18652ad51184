package etcdbackup

import (
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/testenv"
	"quorum.dev/etcd-operator/controllers/render"
)

// Issue #13 item 3: a backup of an etcd this operator does not manage
// waits for no EtcdCluster, and its TLS and auth Secrets are checked
// before the Job like the destination's.
var _ = Describe("a backup of an external etcd", func() {
	const tlsSecret, authSecret = "old-tls", "old-root"
	externalBackup := func(ns string) *etcdv1.EtcdBackup {
		b := s3Backup(ns)
		b.Spec.ClusterName = ""
		b.Spec.External = &etcdv1.ExternalEtcd{Endpoints: []etcdv1.EtcdEndpoint{etcdv1.EtcdEndpoint("https://etcd-0.etcd-headless." + ns + ".svc:2379")},
			TLS: &etcdv1.ExternalEtcdTLS{SecretName: tlsSecret}, Auth: &etcdv1.ExternalEtcdAuth{SecretName: authSecret}}
		return b
	}
	pass := func(ctx SpecContext, secrets map[string]map[string]string) (*etcdv1.EtcdBackup, *events.FakeRecorder) {
		GinkgoHelper()
		ns, err := testenv.NewNamespace(ctx, k8s)
		Expect(err).NotTo(HaveOccurred())
		secret(ctx, ns, "creds", creds)
		for name, data := range secrets {
			secret(ctx, ns, name, data)
		}
		b := externalBackup(ns)
		Expect(k8s.Create(ctx, b)).To(Succeed())
		rec := events.NewFakeRecorder(20)
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: rec, Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}}
		_, err = r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(b)})
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(b), b)).To(Succeed())
		return b, rec
	}
	tlsData := map[string]string{"ca.crt": "ca", "tls.crt": "crt", "tls.key": "key"}
	authData := map[string]string{"username": "root", "password": "pw"}

	It("starts its Job at once, with no EtcdCluster in the namespace", func(ctx SpecContext) {
		b, rec := pass(ctx, map[string]map[string]string{tlsSecret: tlsData, authSecret: authData})
		Expect(b.Status.Phase).To(Equal(etcdv1.BackupRunning), "%+v", b.Status)
		job := &batchv1.Job{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: render.BackupJobName(b)}, job)).To(Succeed())
		args := job.Spec.Template.Spec.Containers[0].Args
		Expect(args).To(ContainElement("--endpoints=https://etcd-0.etcd-headless." + b.Namespace + ".svc:2379"))
		Expect(slices.ContainsFunc(args, func(a string) bool {
			return a == "--source=external https://etcd-0.etcd-headless."+b.Namespace+".svc:2379"
		})).To(BeTrue(), "%q", args)
		Expect(b.Status.Key).To(HavePrefix(b.Namespace + "/external/b-"))
		Expect(testenv.Drain(rec)).To(ConsistOf(ContainSubstring("backing up external (https://etcd-0.etcd-headless.")))
	})

	DescribeTable("fails before its Job when a Secret of the source lacks what the Job reads",
		func(ctx SpecContext, secrets map[string]map[string]string, message string) {
			b, _ := pass(ctx, secrets)
			Expect(b.Status.Phase).To(Equal(etcdv1.BackupFailed))
			failed := meta.FindStatusCondition(b.Status.Conditions, etcdv1.BackupConditionFailed)
			Expect(failed).NotTo(BeNil())
			Expect(failed.Status).To(Equal(metav1.ConditionTrue))
			Expect(failed.Reason).To(Equal(etcdv1.ReasonSecretMissing))
			Expect(failed.Message).To(ContainSubstring(message))
			Expect(failed.Message).To(ContainSubstring("the backup failed before its Job was created"))
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: render.BackupJobName(b)}, &batchv1.Job{})).NotTo(Succeed())
		},
		Entry("no TLS Secret", map[string]map[string]string{authSecret: authData},
			"external etcd TLS Secret old-tls (key ca.crt) not found in namespace"),
		Entry("no CA", map[string]map[string]string{tlsSecret: {"tls.crt": "c", "tls.key": "k"}, authSecret: authData},
			"external etcd TLS Secret old-tls has no key ca.crt"),
		Entry("a certificate without its key", map[string]map[string]string{tlsSecret: {"ca.crt": "ca", "tls.crt": "c"}, authSecret: authData},
			"external etcd TLS Secret old-tls has tls.crt but no tls.key: a client certificate needs both"),
		Entry("a key without its certificate", map[string]map[string]string{tlsSecret: {"ca.crt": "ca", "tls.key": "k"}, authSecret: authData},
			"external etcd TLS Secret old-tls has tls.key but no tls.crt"),
		Entry("no auth Secret", map[string]map[string]string{tlsSecret: tlsData},
			"external etcd auth Secret old-root (key username) not found in namespace"),
		Entry("no password", map[string]map[string]string{tlsSecret: tlsData, authSecret: {"username": "root"}},
			"external etcd auth Secret old-root has no key password"),
	)

	It("takes a TLS Secret with the CA alone (an etcd that checks no client certificates)", func(ctx SpecContext) {
		b, _ := pass(ctx, map[string]map[string]string{tlsSecret: {"ca.crt": "ca"}, authSecret: authData})
		Expect(b.Status.Phase).To(Equal(etcdv1.BackupRunning), "%+v", b.Status)
	})
})
