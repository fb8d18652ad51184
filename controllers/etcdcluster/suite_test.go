package etcdcluster

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"quorum.dev/etcd-operator/controllers/internal/testenv"
)

// Tests of the reconciler's own methods against a real API server; the
// black-box tests of the running reconciler are in package controllers.

// k8s is the test API server's client (no cache); restConfig its
// connection settings, for specs that run the controller in a manager.
var (
	k8s        client.Client
	restConfig *rest.Config
)

func TestEtcdCluster(t *testing.T) {
	testenv.RunSuiteWithConfig(t, "EtcdCluster reconciler suite", &k8s, &restConfig)
}

func newNamespace(ctx context.Context) string {
	ns, err := testenv.NewNamespace(ctx, k8s)
	Expect(err).NotTo(HaveOccurred())
	return ns
}

func get(ctx context.Context, ns, name string, obj client.Object) func() error {
	return func() error { return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj) }
}
