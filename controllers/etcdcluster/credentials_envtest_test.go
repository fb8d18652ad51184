package etcdcluster

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var _ = Describe("a root password Secret without its password key", func() {
	setup := func(ctx SpecContext, secretName string) (*Reconciler, *events.FakeRecorder, *etcdv1.EtcdCluster) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "pw", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Auth: etcdv1.AuthSpec{RootPasswordSecretName: secretName}}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		rec := events.NewFakeRecorder(10)
		return &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: rec}, rec, c
	}
	applied := func(ctx SpecContext, r *Reconciler, c *etcdv1.EtcdCluster) {
		Expect(r.writeRecord(ctx, c, passwordRecord{Password: "applied-pw", ClusterID: "c1"})).To(Succeed())
	}

	It("a user's Secret: keeps using the applied password, never writes the Secret, and says what to do", func(ctx SpecContext) {
		r, rec, c := setup(ctx, "mine")
		mine := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: c.Namespace}, Data: map[string][]byte{"username": []byte("root")}}
		Expect(k8s.Create(ctx, mine)).To(Succeed())

		By("nothing applied yet: nothing to authenticate with")
		_, missing, err := r.rootPassword(ctx, c)
		var se *specError
		Expect(errors.As(err, &se)).To(BeTrue(), "%v", err)
		Expect(se.reason).To(Equal(etcdv1.ReasonAuthSecretMissing))
		Expect(se.msg).To(ContainSubstring(`secret mine has no "password" key`))
		Expect(missing).To(BeNil())

		By("a password applied before the key went")
		applied(ctx, r, c)
		pw, missing, err := r.rootPassword(ctx, c)
		Expect(err).NotTo(HaveOccurred())
		Expect(pw).To(Equal("applied-pw"))
		Expect(missing).NotTo(BeNil())
		Expect(missing.reason).To(Equal(etcdv1.ReasonAuthSecretMissing))
		Expect(missing.msg).To(SatisfyAll(ContainSubstring(`secret mine has no "password" key`), ContainSubstring("keeps using the root password last applied"),
			ContainSubstring(`put the root password into key "password" of secret mine`), ContainSubstring(c.RootPasswordRecordSecretName())))
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(mine), mine)).To(Succeed())
		Expect(mine.Data).NotTo(HaveKey("password"), "a user's Secret is never written")
		Expect(drain(rec)).To(BeEmpty(), "the Degraded transition carries the Warning")
	})

	It("the generated Secret: its key is put back from the record, once, with a Warning", func(ctx SpecContext) {
		r, rec, c := setup(ctx, "")
		_, _, err := r.rootPassword(ctx, c)
		Expect(err).NotTo(HaveOccurred())
		applied(ctx, r, c)
		s := &corev1.Secret{}
		Expect(get(ctx, c.Namespace, c.RootPasswordSecretName(), s)()).To(Succeed())
		delete(s.Data, "password")
		Expect(k8s.Update(ctx, s)).To(Succeed())

		for range 2 {
			pw, missing, err := r.rootPassword(ctx, c)
			Expect(err).NotTo(HaveOccurred())
			Expect(pw).To(Equal("applied-pw"))
			Expect(missing).To(BeNil())
		}
		Expect(get(ctx, c.Namespace, c.RootPasswordSecretName(), s)()).To(Succeed())
		Expect(string(s.Data["password"])).To(Equal("applied-pw"))
		got := drain(rec)
		Expect(got).To(HaveLen(1))
		Expect(got[0]).To(SatisfyAll(HavePrefix("Warning AuthSecretMissing"), ContainSubstring(`had no "password" key`), ContainSubstring("put back")))
	})
})
