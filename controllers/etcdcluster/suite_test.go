package etcdcluster

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"quorum.dev/etcd-operator/controllers/internal/testenv"
)

// Tests of the reconciler's own methods against a real API server; the
// black-box tests of the running reconciler are in package controllers.

var (
	env *testenv.Env
	k8s client.Client
)

func TestEtcdCluster(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "EtcdCluster reconciler suite")
}

var _ = BeforeSuite(func() {
	var err error
	env, err = testenv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8s = env.Client
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

func newNamespace(ctx context.Context) string {
	ns, err := testenv.NewNamespace(ctx, k8s)
	Expect(err).NotTo(HaveOccurred())
	return ns
}

func get(ctx context.Context, ns, name string, obj client.Object) func() error {
	return func() error { return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj) }
}
