package bench

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"quorum.dev/etcd-operator/internal/version"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers"
	"quorum.dev/etcd-operator/controllers/render"
)

// newManager sets up a manager and the reconcilers as main.go does,
// without metrics and probe endpoints or leader election.
func newManager(cfg *rest.Config) (ctrl.Manager, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := etcdv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(""),
	})
	if err != nil {
		return nil, err
	}
	o := render.Options{ImageRepository: "quorum.dev/etcd-server", ImageTagSuffix: version.ServerTagSuffix(), ClusterDomain: etcdv1.DefaultClusterDomain}
	if err := controllers.Setup(mgr, controllers.Options{Render: o}); err != nil {
		return nil, err
	}
	return mgr, nil
}
