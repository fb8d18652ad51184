package etcduser

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/internal/testenv"
	"quorum.dev/etcd-operator/controllers/pki"
	"quorum.dev/etcd-operator/controllers/render"
)

func str(s string) *string { return &s }

// fixture: a namespace with EtcdCluster db (Available, as no EtcdCluster
// reconciler runs here) whose CA and root client Secrets are those of the
// test etcd, and a reconciler whose root clients reach the test etcd.
type fixture struct {
	ns     string
	etcd   *testEtcd
	r      *Reconciler
	offset time.Duration
}

func newFixture(ctx context.Context) *fixture {
	GinkgoHelper()
	ns, err := testenv.NewNamespace(ctx, k8s)
	Expect(err).NotTo(HaveOccurred())
	f := &fixture{ns: ns, etcd: startTLSEtcd()}
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}}
	Expect(k8s.Create(ctx, c)).To(Succeed())
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: etcdv1.ConditionAvailable, Status: metav1.ConditionTrue, Reason: etcdv1.ReasonQuorumHealthy, Message: "ok"})
	Expect(k8s.Status().Update(ctx, c)).To(Succeed())
	for name, p := range map[string]pki.Pair{c.CASecretName(): f.etcd.ca, c.ClientSecretName(): f.etcd.root} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: c.Labels()}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": p.CertPEM, "tls.key": p.KeyPEM, "ca.crt": f.etcd.ca.CertPEM}}
		Expect(k8s.Create(ctx, s)).To(Succeed())
	}
	cache := etcdclient.NewClientCache()
	cache.New = func(cfg etcdclient.Config) (etcdclient.Client, error) {
		cfg.Endpoints = []string{f.etcd.endpoint}
		return etcdclient.New(cfg)
	}
	DeferCleanup(func() { cache.Forget(client.ObjectKeyFromObject(c)) })
	f.r = &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: events.NewFakeRecorder(50),
		Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}, Clients: cache,
		Clock: func() time.Time { return time.Now().Add(f.offset) }}
	return f
}

func (f *fixture) user(name string, auth etcdv1.UserAuthentication, perms ...etcdv1.KeyRange) *etcdv1.EtcdUser {
	GinkgoHelper()
	u := &etcdv1.EtcdUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: etcdv1.EtcdUserSpec{ClusterName: "db", Authentication: auth, Permissions: perms}}
	Expect(k8s.Create(context.Background(), u)).To(Succeed())
	return u
}

// pass runs one Reconcile and returns its result and the user after it.
func (f *fixture) pass(ctx context.Context, u *etcdv1.EtcdUser) (reconcile.Result, *etcdv1.EtcdUser) {
	GinkgoHelper()
	res, err := f.r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(u)})
	Expect(err).NotTo(HaveOccurred())
	got := &etcdv1.EtcdUser{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(u), got); apierrors.IsNotFound(err) {
		return res, nil
	} else {
		Expect(err).NotTo(HaveOccurred())
	}
	return res, got
}

func (f *fixture) secret(ctx context.Context, u *etcdv1.EtcdUser) *corev1.Secret {
	GinkgoHelper()
	s := &corev1.Secret{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: u.CredentialsSecretName()}, s)).To(Succeed())
	return s
}

func ready(u *etcdv1.EtcdUser) *metav1.Condition {
	return meta.FindStatusCondition(u.Status.Conditions, etcdv1.UserConditionReady)
}

var _ = Describe("an EtcdUser with certificate authentication", func() {
	It("gets a user and role limited to its prefix, a renewed certificate, a narrowed role, and is revoked on delete", func(ctx SpecContext) {
		f := newFixture(ctx)
		u := f.user("app", etcdv1.AuthenticationCertificate, etcdv1.KeyRange{Prefix: str("/app/"), Permission: etcdv1.PermissionReadWrite})

		res, u := f.pass(ctx, u)
		Expect(ready(u)).NotTo(BeNil())
		Expect(ready(u).Status).To(Equal(metav1.ConditionTrue), ready(u).Message)
		Expect(u.Finalizers).To(ContainElement(Finalizer))
		Expect(u.Status.SecretName).To(Equal("app-etcd-credentials"))
		Expect(u.Status.ObservedGeneration).To(Equal(u.Generation))
		s := f.secret(ctx, u)
		Expect(metav1.IsControlledBy(s, u)).To(BeTrue())
		Expect(string(s.Data[KeyEndpoint])).To(Equal("https://db-client." + f.ns + ".svc.cluster.local:2379"))
		Expect(s.Data).NotTo(HaveKey(KeyPassword))
		cert, err := pki.ParseCert(s.Data["tls.crt"])
		Expect(err).NotTo(HaveOccurred())
		Expect(cert.Subject.CommonName).To(Equal("app"))
		By("the next look is when the certificate is due for renewal")
		Expect(res.RequeueAfter).To(BeNumerically("~", time.Until(cert.NotAfter.Add(-certRenewBefore)), time.Minute))

		By("a client built from the Secret reads and writes under /app/ and is refused elsewhere")
		app, err := f.etcd.app(s.Data)
		Expect(err).NotTo(HaveOccurred())
		_, err = app.Put(ctx, "/app/x", "1")
		Expect(err).NotTo(HaveOccurred())
		_, err = app.Get(ctx, "/app/x")
		Expect(err).NotTo(HaveOccurred())
		_, err = app.Put(ctx, "/other/x", "1")
		Expect(refused(err)).To(BeTrue(), "put outside: %v", err)
		_, err = app.Get(ctx, "/apple")
		Expect(refused(err)).To(BeTrue(), "get of a key the prefix does not cover: %v", err)

		By("an idle pass keeps the Secret as it is")
		_, _ = f.pass(ctx, u)
		Expect(f.secret(ctx, u).ResourceVersion).To(Equal(s.ResourceVersion))

		By("near expiry the certificate is re-issued")
		f.offset = certValidity - certRenewBefore + time.Hour
		_, u = f.pass(ctx, u)
		renewed := f.secret(ctx, u)
		Expect(renewed.Data["tls.crt"]).NotTo(Equal(s.Data["tls.crt"]))
		Expect(u.Status.CertificateNotAfter.Time).To(BeTemporally(">", cert.NotAfter))
		f.offset = 0

		By("narrowing to read: writes are refused, reads work")
		u.Spec.Permissions = []etcdv1.KeyRange{{Prefix: str("/app/"), Permission: etcdv1.PermissionRead}, {Key: str("/cfg/a"), RangeEnd: str("/cfg/c"), Permission: etcdv1.PermissionRead}}
		Expect(k8s.Update(ctx, u)).To(Succeed())
		_, u = f.pass(ctx, u)
		Expect(ready(u).Status).To(Equal(metav1.ConditionTrue))
		_, err = app.Put(ctx, "/app/x", "2")
		Expect(refused(err)).To(BeTrue(), "put after narrowing: %v", err)
		_, err = app.Get(ctx, "/cfg/b")
		Expect(err).NotTo(HaveOccurred())
		_, err = app.Get(ctx, "/cfg/c")
		Expect(refused(err)).To(BeTrue(), "rangeEnd is exclusive: %v", err)

		By("delete: the user and role are removed, then the finalizer")
		Expect(k8s.Delete(ctx, u)).To(Succeed())
		_, gone := f.pass(ctx, u)
		Expect(gone).To(BeNil())
		_, err = app.Get(ctx, "/app/x")
		Expect(refused(err)).To(BeTrue(), "deleted user's certificate: %v", err)
	})
})

var _ = Describe("an EtcdUser with password authentication", func() {
	It("gets a password and a transport certificate without a common name", func(ctx SpecContext) {
		f := newFixture(ctx)
		u := f.user("pw", etcdv1.AuthenticationPassword, etcdv1.KeyRange{Prefix: str("/p/"), Permission: etcdv1.PermissionReadWrite})
		_, u = f.pass(ctx, u)
		Expect(ready(u).Status).To(Equal(metav1.ConditionTrue), ready(u).Message)
		s := f.secret(ctx, u)
		Expect(string(s.Data[KeyUsername])).To(Equal("pw"))
		Expect(s.Data[KeyPassword]).To(HaveLen(32))
		cert, err := pki.ParseCert(s.Data["tls.crt"])
		Expect(err).NotTo(HaveOccurred())
		Expect(cert.Subject.CommonName).To(BeEmpty())

		app, err := f.etcd.app(s.Data)
		Expect(err).NotTo(HaveOccurred())
		_, err = app.Put(ctx, "/p/x", "1")
		Expect(err).NotTo(HaveOccurred())
		_, err = app.Put(ctx, "/q", "1")
		Expect(refused(err)).To(BeTrue(), "put outside: %v", err)

		By("a lost password is replaced, in etcd too")
		delete(s.Data, KeyPassword)
		Expect(k8s.Update(ctx, s)).To(Succeed())
		_, _ = f.pass(ctx, u)
		s2 := f.secret(ctx, u)
		Expect(s2.Data[KeyPassword]).To(HaveLen(32))
		_, err = f.etcd.app(s2.Data)
		Expect(err).NotTo(HaveOccurred())
		bad := s2.DeepCopy().Data
		bad[KeyPassword] = []byte("wrong")
		_, err = f.etcd.app(bad)
		Expect(err).To(HaveOccurred())
	})
})

var _ = Describe("an EtcdUser whose cluster cannot take it", func() {
	It("reports why, and a deleted user whose cluster is gone is let go", func(ctx SpecContext) {
		ns, err := testenv.NewNamespace(ctx, k8s)
		Expect(err).NotTo(HaveOccurred())
		rec := events.NewFakeRecorder(50)
		f := &fixture{ns: ns}
		f.r = &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: rec,
			Clients: etcdclient.NewClientCache(), Clock: func() time.Time { return time.Now().Add(f.offset) }}
		u := f.user("lonely", "", etcdv1.KeyRange{Key: str("k"), Permission: etcdv1.PermissionRead})
		res, u := f.pass(ctx, u)
		Expect(ready(u).Status).To(Equal(metav1.ConditionFalse))
		Expect(ready(u).Reason).To(Equal(etcdv1.ReasonClusterNotFound))
		Expect(res.RequeueAfter).To(BeZero(), "the cluster watch wakes it")

		off := false
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{TLS: etcdv1.TLSSpec{Enabled: &off}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		_, u = f.pass(ctx, u)
		Expect(ready(u).Reason).To(Equal(etcdv1.ReasonCertificateAuthUnavailable), ready(u).Message)

		reserved := f.user("db-server", etcdv1.AuthenticationPassword, etcdv1.KeyRange{Key: str("k"), Permission: etcdv1.PermissionRead})
		_, reserved = f.pass(ctx, reserved)
		Expect(ready(reserved).Reason).To(Equal(etcdv1.ReasonNameReserved), ready(reserved).Message)

		u2 := f.user("later", etcdv1.AuthenticationPassword, etcdv1.KeyRange{Key: str("k"), Permission: etcdv1.PermissionRead})
		res, u2 = f.pass(ctx, u2)
		Expect(ready(u2).Reason).To(Equal(etcdv1.ReasonClusterUnavailable), ready(u2).Message)
		Expect(res.RequeueAfter).To(Equal(requeueWait))

		By("a deleted user whose cluster does not answer waits, then is let go with a Warning")
		Expect(k8s.Delete(ctx, u2)).To(Succeed())
		res, u2 = f.pass(ctx, u2)
		Expect(u2).NotTo(BeNil(), "kept while the revoke is retried")
		Expect(ready(u2).Reason).To(Equal(etcdv1.ReasonEtcdError), ready(u2).Message)
		Expect(res.RequeueAfter).To(Equal(requeueWait))
		f.offset = revokeGrace + time.Minute
		_, u2 = f.pass(ctx, u2)
		Expect(u2).To(BeNil())
		Expect(testenv.Drain(rec)).To(ContainElement(ContainSubstring(eventNotRevoked)))

		By("a deleted user whose cluster is gone is let go at once")
		f.offset = 0
		Expect(k8s.Delete(ctx, c)).To(Succeed())
		Expect(k8s.Delete(ctx, u)).To(Succeed())
		_, gone := f.pass(ctx, u)
		Expect(gone).To(BeNil())
	})
})
