//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
)

// Issue #15 item 5: an application's user, limited to its prefix, with
// its credentials in a Secret; revoked when the EtcdUser is deleted.
var _ = Describe("EtcdUser", func() {
	It("gives an application a certificate that works under /app/ only, and revokes it on delete", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "usr", 1, nil)
		waitAvailable(ctx, ns, "usr", 1)

		u := &etcdv1.EtcdUser{ObjectMeta: metav1ObjectMeta(ns, "app"), Spec: etcdv1.EtcdUserSpec{ClusterName: "usr",
			Permissions: []etcdv1.KeyRange{{Prefix: ptr.To("/app/"), Permission: etcdv1.PermissionReadWrite}}}}
		Expect(k8s.Create(ctx, u)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(u.Status.Conditions, etcdv1.UserConditionReady)).To(BeTrue(), "conditions: %+v", u.Status.Conditions)
		}).WithContext(ctx).WithTimeout(90 * time.Second).WithPolling(time.Second).Should(Succeed())

		By("a client built from the Secret")
		s := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: u.Status.SecretName}, s)).To(Succeed())
		Expect(string(s.Data["endpoint"])).To(HavePrefix("https://usr-client." + ns + ".svc."))
		tlsCfg, err := etcdclient.TLSConfig(s.Data["tls.crt"], s.Data["tls.key"], s.Data["ca.crt"])
		Expect(err).NotTo(HaveOccurred())
		tlsCfg.ServerName = fmt.Sprintf("usr-client.%s.svc", ns)
		app := etcdClient(podEndpoints(ctx, ns, "usr", "https"), tlsCfg)

		_, err = app.Put(op(ctx), "/app/greeting", "hello")
		Expect(err).NotTo(HaveOccurred())
		got, err := app.Get(op(ctx), "/app/greeting")
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Kvs).To(HaveLen(1))
		_, err = app.Put(op(ctx), "/other/x", "no")
		Expect(errors.Is(err, rpctypes.ErrPermissionDenied)).To(BeTrue(), "put under /other/: %v", err)
		_, err = app.Get(op(ctx), "/other/x")
		Expect(errors.Is(err, rpctypes.ErrPermissionDenied)).To(BeTrue(), "get under /other/: %v", err)

		By("deleting the EtcdUser: the certificate no longer authenticates")
		Expect(k8s.Delete(ctx, u)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(u), &etcdv1.EtcdUser{}))
		}).WithContext(ctx).WithTimeout(60 * time.Second).WithPolling(time.Second).Should(BeTrue())
		_, err = app.Get(op(ctx), "/app/greeting")
		Expect(err).To(HaveOccurred())
		Expect(errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrUserNotFound)).To(BeTrue(), "deleted user's certificate: %v", err)
	}, SpecTimeout(5*time.Minute))
})
