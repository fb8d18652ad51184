// Package testenv is the envtest harness of the controller tests: a real
// kube-apiserver and etcd (no kubelet, no controllers: pods never start,
// garbage collection never runs) with the operator's CRDs installed.
// KUBEBUILDER_ASSETS must name a directory holding kube-apiserver, etcd
// and kubectl: `make test` builds and sets it.
package testenv

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Env is a running test API server.
type Env struct {
	*envtest.Environment
	Config *rest.Config
	// Client talks to the API server directly (no cache).
	Client client.Client
}

// Scheme knows the built-in kinds and the operator's.
func Scheme() *kruntime.Scheme {
	s := kruntime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(etcdv1.AddToScheme(s))
	return s
}

// Start starts the API server with the operator's CRDs and those in
// extraCRDDirs (paths relative to the test's package).
func Start(extraCRDDirs ...string) (*Env, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	e := &Env{Environment: &envtest.Environment{
		CRDDirectoryPaths:     append([]string{filepath.Join(root, "config", "crd", "bases")}, extraCRDDirs...),
		ErrorIfCRDPathMissing: true,
	}}
	cfg, err := e.Environment.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	e.Config = cfg
	if e.Client, err = client.New(cfg, client.Options{Scheme: Scheme()}); err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("creating client: %w", err)
	}
	return e, nil
}

// NewNamespace creates a namespace with a generated name and returns it.
func NewNamespace(ctx context.Context, c client.Client) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	if err := c.Create(ctx, ns); err != nil {
		return "", fmt.Errorf("creating namespace: %w", err)
	}
	return ns.Name, nil
}
