package etcduser

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"quorum.dev/etcd-operator/controllers/internal/testenv"
)

// Tests of the reconciler's passes against a real API server and a real
// embedded etcd (TLS, client-cert-auth, auth on), called one at a time.

// k8s is the test API server's client (no cache).
var k8s client.Client

func TestEtcdUser(t *testing.T) {
	testenv.RunSuite(t, "EtcdUser reconciler suite", &k8s)
}
