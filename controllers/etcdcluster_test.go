package controllers

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
	"quorum.dev/etcd-operator/controllers/render"
)

func newNamespace(ctx context.Context) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

func get(ctx context.Context, ns, name string, obj client.Object) func() error {
	return func() error { return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj) }
}

// mutate changes a cluster, retrying when the reconciler wrote it in
// between (its status patches bump the resourceVersion).
func mutate(ctx context.Context, ns, name string, f func(*etcdv1.EtcdCluster)) {
	ExpectWithOffset(1, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c := &etcdv1.EtcdCluster{}
		if err := get(ctx, ns, name, c)(); err != nil {
			return err
		}
		f(c)
		return k8s.Update(ctx, c)
	})).To(Succeed())
}

// poke changes an annotation, so the reconciler runs a pass now.
func poke(c *etcdv1.EtcdCluster) {
	c.Annotations = map[string]string{"poke": time.Now().Format(time.RFC3339Nano)}
}

var _ = Describe("EtcdCluster reconciler", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	It("creates certificates, config, services, members and a PDB, and reports bootstrapping", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Expect(c.Spec.Replicas).To(Equal(ptr.To[int32](3)), "replicas defaults to 3")
		Expect(c.Spec.Version).To(Equal("3.7.3"))

		sts := &appsv1.StatefulSet{}
		Eventually(get(ctx, ns, "demo", sts), timeout, poll).Should(Succeed())
		Expect(*sts.Spec.Replicas).To(Equal(int32(3)))
		Expect(sts.Spec.PodManagementPolicy).To(Equal(appsv1.ParallelPodManagement))
		Expect(sts.Spec.ServiceName).To(Equal("demo-peer"))
		Expect(sts.Spec.Template.Spec.Containers[0].Image).To(Equal("quorum.dev/etcd-server:3.7.3"))
		Expect(sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted).To(Equal(appsv1.RetainPersistentVolumeClaimRetentionPolicyType))
		Expect(metav1.IsControlledBy(sts, c)).To(BeTrue())

		caSecret := &corev1.Secret{}
		Eventually(get(ctx, ns, "demo-ca", caSecret), timeout, poll).Should(Succeed())
		pool := x509.NewCertPool()
		Expect(pool.AppendCertsFromPEM(caSecret.Data["ca.crt"])).To(BeTrue())
		for _, name := range []string{"demo-server-tls", "demo-peer-tls", "demo-client-tls"} {
			s := &corev1.Secret{}
			Eventually(get(ctx, ns, name, s), timeout, poll).Should(Succeed())
			Expect(s.Type).To(Equal(corev1.SecretTypeTLS))
			leaf, err := pki.ParseCert(s.Data["tls.crt"])
			Expect(err).NotTo(HaveOccurred())
			_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			Expect(err).NotTo(HaveOccurred(), name)
		}
		server := &corev1.Secret{}
		Expect(get(ctx, ns, "demo-server-tls", server)()).To(Succeed())
		leaf, _ := pki.ParseCert(server.Data["tls.crt"])
		Expect(leaf.VerifyHostname(fmt.Sprintf("demo-2.demo-peer.%s.svc.cluster.local", ns))).To(Succeed())
		Expect(leaf.VerifyHostname(fmt.Sprintf("demo-client.%s.svc", ns))).To(Succeed())

		cm := &corev1.ConfigMap{}
		Eventually(get(ctx, ns, "demo-config", cm), timeout, poll).Should(Succeed())
		Expect(cm.Data[render.ConfigKeyInitialState]).To(Equal("new"))
		Expect(cm.Data[render.ConfigKeyInitialCluster]).To(Equal(fmt.Sprintf(
			"demo-0=https://demo-0.demo-peer.%[1]s.svc.cluster.local:2380,demo-1=https://demo-1.demo-peer.%[1]s.svc.cluster.local:2380,demo-2=https://demo-2.demo-peer.%[1]s.svc.cluster.local:2380", ns)))
		// No quota in the spec: derived from the default 1Gi volume,
		// (1Gi - 384Mi) / 2 = 320Mi.
		Eventually(get(ctx, ns, "demo", &appsv1.StatefulSet{}), timeout, poll).Should(Succeed())
		Expect(memberOptions(ctx, ns, "demo")).To(ContainSubstring("quota-backend-bytes: 335544320"))

		peer := &corev1.Service{}
		Eventually(get(ctx, ns, "demo-peer", peer), timeout, poll).Should(Succeed())
		Expect(peer.Spec.ClusterIP).To(Equal(corev1.ClusterIPNone))
		Expect(peer.Spec.PublishNotReadyAddresses).To(BeTrue())
		Eventually(get(ctx, ns, "demo-client", &corev1.Service{}), timeout, poll).Should(Succeed())

		pdb := &policyv1.PodDisruptionBudget{}
		Eventually(get(ctx, ns, "demo", pdb), timeout, poll).Should(Succeed())
		Expect(pdb.Spec.MaxUnavailable.IntValue()).To(Equal(1))

		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "demo", c)()).To(Succeed())
			avail := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionAvailable)
			g.Expect(avail).NotTo(BeNil())
			g.Expect(avail.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(avail.Reason).To(Equal(etcdv1.ReasonBootstrapping))
			g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionProgressing)).To(BeTrue())
			g.Expect(c.Status.ObservedGeneration).To(Equal(c.Generation))
			g.Expect(c.Status.Selector).To(Equal("app.kubernetes.io/instance=demo,app.kubernetes.io/name=etcd"))
			g.Expect(c.Status.ClientSecretName).To(Equal("demo-client-tls"))
			g.Expect(c.Status.ClientEndpoint).To(Equal(fmt.Sprintf("https://demo-client.%s.svc.cluster.local:2379", ns)))
		}, timeout, poll).Should(Succeed())
	})

	It("keeps fields other writers set on its children", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "keep", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		svc := &corev1.Service{}
		Eventually(get(ctx, ns, "keep-client", svc), timeout, poll).Should(Succeed())
		patch := client.MergeFrom(svc.DeepCopy())
		svc.Annotations = map[string]string{"example.com/owner": "someone-else"}
		Expect(k8s.Patch(ctx, svc, patch, client.FieldOwner("someone-else"))).To(Succeed())

		// A spec change makes the operator apply again.
		mutate(ctx, ns, "keep", func(c *etcdv1.EtcdCluster) { c.Spec.PodTemplate.Labels = map[string]string{"team": "storage"} })
		sts := &appsv1.StatefulSet{}
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "keep", sts)()).To(Succeed())
			g.Expect(sts.Spec.Template.Labels).To(HaveKeyWithValue("team", "storage"))
		}, timeout, poll).Should(Succeed())
		Expect(get(ctx, ns, "keep-client", svc)()).To(Succeed())
		Expect(svc.Annotations).To(HaveKeyWithValue("example.com/owner", "someone-else"))
	})

	It("renews a leaf certificate that is close to expiry, keeping the CA", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "renew", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		before, ca := &corev1.Secret{}, &corev1.Secret{}
		Eventually(get(ctx, ns, "renew-server-tls", before), timeout, poll).Should(Succeed())
		Expect(get(ctx, ns, "renew-ca", ca)()).To(Succeed())

		// Move the clock to 20 days before the leaf expires, inside the
		// renewal window, and poke the cluster.
		old, _ := pki.ParseCert(before.Data["tls.crt"])
		clockOffset.Store(int64(time.Until(old.NotAfter.Add(-20 * 24 * time.Hour))))
		DeferCleanup(func() { clockOffset.Store(0) })
		mutate(ctx, ns, "renew", poke)

		Eventually(func(g Gomega) {
			after := &corev1.Secret{}
			g.Expect(get(ctx, ns, "renew-server-tls", after)()).To(Succeed())
			renewed, err := pki.ParseCert(after.Data["tls.crt"])
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(renewed.NotAfter.After(old.NotAfter)).To(BeTrue(), "certificate was not renewed")
			g.Expect(after.Data["ca.crt"]).To(Equal(ca.Data["ca.crt"]))
		}, timeout, poll).Should(Succeed())
		caAfter := &corev1.Secret{}
		Expect(get(ctx, ns, "renew-ca", caAfter)()).To(Succeed())
		Expect(caAfter.Data["tls.crt"]).To(Equal(ca.Data["tls.crt"]))
	})

	It("runs without TLS when it is turned off", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: ns},
			Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1), TLS: etcdv1.TLSSpec{Enabled: ptr.To(false)}, Storage: etcdv1.StorageSpec{Medium: etcdv1.StorageMemory}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		sts := &appsv1.StatefulSet{}
		Eventually(get(ctx, ns, "plain", sts), timeout, poll).Should(Succeed())
		Expect(sts.Spec.VolumeClaimTemplates).To(BeEmpty())
		for _, e := range sts.Spec.Template.Spec.Containers[0].Env {
			Expect(e.Name).NotTo(Equal("QUORUM_SERVER_TLS_DIR"))
		}
		Consistently(get(ctx, ns, "plain-ca", &corev1.Secret{}), time.Second, poll).ShouldNot(Succeed())
		cm := &corev1.ConfigMap{}
		Eventually(get(ctx, ns, "plain-config", cm), timeout, poll).Should(Succeed())
		Expect(cm.Data[render.ConfigKeyInitialCluster]).To(HavePrefix("plain-0=http://"))
	})

	It("holds the StatefulSet size when replicas change and says why", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "grow", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(get(ctx, ns, "grow", &appsv1.StatefulSet{}), timeout, poll).Should(Succeed())
		mutate(ctx, ns, "grow", func(c *etcdv1.EtcdCluster) { c.Spec.Replicas = ptr.To[int32](3) })
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "grow", c)()).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionProgressing)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonScalePending))
		}, timeout, poll).Should(Succeed())
		sts := &appsv1.StatefulSet{}
		Expect(get(ctx, ns, "grow", sts)()).To(Succeed())
		Expect(*sts.Spec.Replicas).To(Equal(int32(1)))
	})
})

var _ = Describe("EtcdCluster auth", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	It("generates a root password Secret and names it in the status", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "auth", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		s := &corev1.Secret{}
		Eventually(get(ctx, ns, "auth-root-password", s), timeout, poll).Should(Succeed())
		Expect(len(s.Data["password"])).To(BeNumerically(">=", 24))
		Expect(s.OwnerReferences).To(BeEmpty(), "kept volumes (whenDeleted Retain) keep their password")
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "auth", c)()).To(Succeed())
			g.Expect(c.Status.RootPasswordSecretName).To(Equal("auth-root-password"))
			g.Expect(c.Status.AuthEnabled).To(BeFalse(), "auth is only enabled on a running cluster")
		}, timeout, poll).Should(Succeed())

		By("deleting the claims with the cluster: the password goes with it too")
		patch := client.MergeFrom(c.DeepCopy())
		c.Spec.Storage.WhenDeleted = etcdv1.PVCDelete
		Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "auth-root-password", s)()).To(Succeed())
			g.Expect(metav1.IsControlledBy(s, c)).To(BeTrue())
		}, timeout, poll).Should(Succeed())
		password := string(s.Data["password"])

		By("keeping them again: the owner reference goes, the password stays")
		patch = client.MergeFrom(c.DeepCopy())
		c.Spec.Storage.WhenDeleted = etcdv1.PVCRetain
		Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "auth-root-password", s)()).To(Succeed())
			g.Expect(s.OwnerReferences).To(BeEmpty())
		}, timeout, poll).Should(Succeed())
		Expect(string(s.Data["password"])).To(Equal(password))
	})

	It("reports a missing user-named password Secret, then uses it once it appears", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "byo", Namespace: ns},
			Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1), Auth: etcdv1.AuthSpec{RootPasswordSecretName: "mine"}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "byo", c)()).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonAuthSecretMissing))
			g.Expect(cond.Message).To(ContainSubstring("root password secret mine not found"))
		}, timeout, poll).Should(Succeed())

		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: ns}, Data: map[string][]byte{"password": []byte("hunter2hunter2")}})).To(Succeed())
		mutate(ctx, ns, "byo", poke)
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "byo", c)()).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(cond.Reason).NotTo(Equal(etcdv1.ReasonAuthSecretMissing))
		}, timeout, poll).Should(Succeed())
		Consistently(get(ctx, ns, "byo-root-password", &corev1.Secret{}), time.Second, poll).ShouldNot(Succeed())
	})

	It("refuses turning auth off once on", func(ctx SpecContext) {
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{GenerateName: "off-", Namespace: "default"}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		before := c.DeepCopy()
		c.Spec.Auth.Enabled = ptr.To(false)
		err := k8s.Patch(ctx, c, client.MergeFrom(before))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("auth cannot be turned off once enabled"))
	})
})

var _ = Describe("EtcdCluster with user-supplied certificates", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	It("mounts the user's Secrets, issues none, and reports a missing one", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "byoc", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{
			Replicas: ptr.To[int32](1),
			TLS:      etcdv1.TLSSpec{ServerSecretName: "srv", PeerSecretName: "peer", ClientSecretName: "cli"},
		}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "byoc", c)()).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonCertificateInvalid))
			g.Expect(cond.Message).To(Equal("certificates: TLS secret srv not found"))
		}, timeout, poll).Should(Succeed())

		now := time.Now()
		ca, err := pki.NewCA("user ca", now, time.Hour*24)
		Expect(err).NotTo(HaveOccurred())
		for _, name := range []string{"srv", "peer", "cli"} {
			leaf, err := pki.Issue(ca, pki.LeafRequest{CommonName: name, Server: true, Client: true}, now, time.Hour)
			Expect(err).NotTo(HaveOccurred())
			Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Data: map[string][]byte{"tls.crt": leaf.CertPEM, "tls.key": leaf.KeyPEM, "ca.crt": ca.CertPEM}})).To(Succeed())
		}
		mutate(ctx, ns, "byoc", poke)
		sts := &appsv1.StatefulSet{}
		Eventually(get(ctx, ns, "byoc", sts), timeout, poll).Should(Succeed())
		secrets := map[string]string{}
		for _, v := range sts.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				secrets[v.Name] = v.Secret.SecretName
			}
		}
		// The JWT signing key is the operator's own (jwt is the default), not a certificate.
		Expect(secrets).To(Equal(map[string]string{"server-tls": "srv", "peer-tls": "peer", "client-tls": "cli", "auth-token-key": "byoc-auth-token-key"}))
		Consistently(get(ctx, ns, "byoc-ca", &corev1.Secret{}), time.Second, poll).ShouldNot(Succeed())
		Expect(c.Status.ClientSecretName).To(Equal("cli"))

		By("certificates that name no member are reported, without stopping the members")
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "byoc", c)()).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(etcdv1.ReasonCertificateInvalid))
			g.Expect(cond.Message).To(ContainSubstring("the members' TLS Secrets cannot serve the cluster: the server Secret srv: its certificate does not name the members' host names"))
		}, timeout, poll).Should(Succeed())

		By("correct certificates clear it")
		peerNames := []string{"*.byoc-peer." + ns + ".svc.cluster.local", "*.byoc-peer." + ns + ".svc"}
		for name, req := range map[string]pki.LeafRequest{
			"srv":  {CommonName: "byoc-server", DNSNames: append([]string{"byoc-client." + ns + ".svc"}, peerNames...), Server: true, Client: true},
			"peer": {CommonName: "byoc-peer", DNSNames: peerNames, Server: true, Client: true},
			"cli":  {CommonName: "root", Client: true},
		} {
			leaf, err := pki.Issue(ca, req, now, time.Hour)
			Expect(err).NotTo(HaveOccurred())
			s := &corev1.Secret{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s)).To(Succeed())
			s.Data["tls.crt"], s.Data["tls.key"] = leaf.CertPEM, leaf.KeyPEM
			Expect(k8s.Update(ctx, s)).To(Succeed())
		}
		mutate(ctx, ns, "byoc", poke)
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "byoc", c)()).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(cond == nil || cond.Reason != etcdv1.ReasonCertificateInvalid).To(BeTrue(), "still %+v", cond)
		}, timeout, poll).Should(Succeed())
	})

	It("refuses a partial set of user Secrets", func(ctx SpecContext) {
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{GenerateName: "partial-", Namespace: "default"},
			Spec: etcdv1.EtcdClusterSpec{TLS: etcdv1.TLSSpec{ServerSecretName: "srv"}}}
		err := k8s.Create(ctx, c)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("given together or not at all"))
	})
})

var _ = Describe("EtcdCluster monitoring", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	It("creates a PodMonitor for the members' metrics port when asked, and removes it when not", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "mon", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{
			Replicas:   ptr.To[int32](1),
			Monitoring: etcdv1.MonitoringSpec{PodMonitor: true, Labels: map[string]string{"release": "prom"}, Interval: "15s"}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		pm := &unstructured.Unstructured{}
		pm.SetGroupVersionKind(schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "PodMonitor"})
		Eventually(get(ctx, ns, "mon", pm), timeout, poll).Should(Succeed())
		Expect(pm.GetLabels()).To(HaveKeyWithValue("release", "prom"))
		sel, _, _ := unstructured.NestedStringMap(pm.Object, "spec", "selector", "matchLabels")
		Expect(sel).To(Equal(map[string]string{etcdv1.LabelName: "etcd", etcdv1.LabelInstance: "mon"}))
		eps, _, _ := unstructured.NestedSlice(pm.Object, "spec", "podMetricsEndpoints")
		Expect(eps).To(ConsistOf(HaveKeyWithValue("port", "metrics")))
		Expect(eps[0]).To(HaveKeyWithValue("interval", "15s"))
		// etcd's series are labelled with the cluster, as the alert rules select them.
		Expect(eps[0]).To(HaveKeyWithValue("relabelings", ConsistOf(And(
			HaveKeyWithValue("sourceLabels", ConsistOf("__meta_kubernetes_pod_label_app_kubernetes_io_instance")),
			HaveKeyWithValue("targetLabel", "etcd_cluster")))))

		mutate(ctx, ns, "mon", func(c *etcdv1.EtcdCluster) { c.Spec.Monitoring.PodMonitor = false })
		Eventually(get(ctx, ns, "mon", pm), timeout, poll).ShouldNot(Succeed())
	})
})

var _ = Describe("EtcdCluster alert rules", func() {
	const timeout, poll = 20 * time.Second, 100 * time.Millisecond

	It("reports a missing PrometheusRule CRD without stopping the pass, and applies the rule once the CRD is installed", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "rules", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{
			Replicas:   ptr.To[int32](1),
			Monitoring: etcdv1.MonitoringSpec{PodMonitor: true, PrometheusRule: true, Labels: map[string]string{"release": "prom"}}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		// The CRD is not installed: Degraded with the cause and what to do.
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "rules", c)()).To(Succeed())
			d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(d.Reason).To(Equal(etcdv1.ReasonMonitoringUnavailable))
			g.Expect(d.Message).To(ContainSubstring("monitoring.prometheusRule is set but the PrometheusRule CRD (monitoring.coreos.com/v1) is not installed"))
		}, timeout, poll).Should(Succeed())
		// The rest of the pass went on: members and the PodMonitor exist.
		Expect(get(ctx, ns, "rules", &appsv1.StatefulSet{})()).To(Succeed())
		pm := &unstructured.Unstructured{}
		pm.SetGroupVersionKind(render.PodMonitorGVK)
		Expect(get(ctx, ns, "rules", pm)()).To(Succeed())

		raw, err := os.ReadFile(filepath.Join("testdata", "prometheusrules-crd.yaml"))
		Expect(err).NotTo(HaveOccurred())
		crd := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal(raw, &crd.Object)).To(Succeed())
		Expect(k8s.Create(ctx, crd)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(crd), crd)).To(Succeed())
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			g.Expect(conds).To(ContainElement(And(HaveKeyWithValue("type", "Established"), HaveKeyWithValue("status", "True"))))
		}, timeout, poll).Should(Succeed())

		pr := &unstructured.Unstructured{}
		pr.SetGroupVersionKind(render.PrometheusRuleGVK)
		Eventually(func(g Gomega) {
			mutate(ctx, ns, "rules", poke)
			g.Expect(get(ctx, ns, "rules", pr)()).To(Succeed())
		}, timeout, time.Second).Should(Succeed())
		Expect(pr.GetLabels()).To(HaveKeyWithValue("release", "prom"))
		Expect(metav1.IsControlledBy(pr, c)).To(BeTrue())
		groups, _, _ := unstructured.NestedSlice(pr.Object, "spec", "groups")
		Expect(groups).To(HaveLen(1))
		rules, _, _ := unstructured.NestedSlice(groups[0].(map[string]any), "rules")
		Expect(rules).To(ContainElement(And(HaveKeyWithValue("alert", "EtcdNoLeader"),
			HaveKeyWithValue("expr", ContainSubstring(fmt.Sprintf(`namespace=%q,etcd_cluster="rules"`, ns))))))
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, "rules", c)()).To(Succeed())
			g.Expect(meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)).To(
				Or(BeNil(), HaveField("Reason", Not(Equal(etcdv1.ReasonMonitoringUnavailable)))))
		}, timeout, poll).Should(Succeed())

		mutate(ctx, ns, "rules", func(c *etcdv1.EtcdCluster) { c.Spec.Monitoring.PrometheusRule = false })
		Eventually(get(ctx, ns, "rules", pr), timeout, poll).ShouldNot(Succeed())
	})
})
