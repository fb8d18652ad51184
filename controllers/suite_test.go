package controllers

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"quorum.dev/etcd-operator/controllers/internal/testenv"
	"quorum.dev/etcd-operator/controllers/render"
)

// The envtest suite runs the four reconcilers, wired by Setup as in main,
// against a real kube-apiserver and etcd (see internal/testenv: pods never
// start, garbage collection never runs), and watches what they do from
// the outside.

var (
	k8s     client.Client
	testEnv *testenv.Env
	cancel  context.CancelFunc
	// clockOffset moves the reconcilers' clock forward, for certificate
	// renewal and schedule tests.
	clockOffset atomic.Int64
)

func testClock() time.Time { return time.Now().Add(time.Duration(clockOffset.Load())) }

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	testEnv, err = testenv.Start(filepath.Join("testdata", "crds"))
	Expect(err).NotTo(HaveOccurred())
	k8s = testEnv.Client

	mgr, err := ctrl.NewManager(testEnv.Config, ctrl.Options{Scheme: testenv.Scheme(), Metrics: metricsserver.Options{BindAddress: "0"}})
	Expect(err).NotTo(HaveOccurred())
	// The same wiring as main's: every reconciler through Setup.
	Expect(Setup(mgr, Options{
		Render: render.Options{ImageRepository: "quorum.dev/etcd-server", ClusterDomain: "cluster.local"},
		Clock:  testClock,
	})).To(Succeed())
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
