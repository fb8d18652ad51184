package controllers

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// The envtest suite runs the reconciler against a real kube-apiserver and
// etcd (no kubelet, no controllers: pods never start, garbage collection
// never runs). KUBEBUILDER_ASSETS must name a directory holding
// kube-apiserver, etcd and kubectl: `make test` builds and sets it.

var (
	k8s     client.Client
	testEnv *envtest.Environment
	cancel  context.CancelFunc
	// clockOffset moves the reconciler's clock forward, for renewal tests.
	clockOffset atomic.Int64
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases"), filepath.Join("testdata", "crds")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(etcdv1.AddToScheme(scheme))
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	Expect(err).NotTo(HaveOccurred())
	r := &EtcdClusterReconciler{
		Client:    mgr.GetClient(),
		Scheme:    mgr.GetScheme(),
		Recorder:  mgr.GetEventRecorder("quorum-operator"),
		Render:    render.Options{ImageRepository: "quorum.dev/etcd-server", ClusterDomain: "cluster.local"},
		APIReader: mgr.GetAPIReader(),
		Clock:     func() time.Time { return time.Now().Add(time.Duration(clockOffset.Load())) },
		Clients:   NewClientCache(),
	}
	Expect(r.SetupWithManager(mgr)).To(Succeed())
	br := &EtcdBackupReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorder("quorum-operator"), Render: r.Render}
	Expect(br.SetupWithManager(mgr)).To(Succeed())
	rr := &EtcdRestoreReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorder("quorum-operator"), Render: r.Render}
	Expect(rr.SetupWithManager(mgr)).To(Succeed())
	sr := &EtcdBackupScheduleReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorder("quorum-operator"),
		Clock: scheduleClock, Stores: S3Stores{Reader: mgr.GetAPIReader()}}
	Expect(sr.SetupWithManager(mgr)).To(Succeed())
	var ctx context.Context
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})
