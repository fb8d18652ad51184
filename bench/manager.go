package bench

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
		Cache:                  cacheOptions(),
	})
	if err != nil {
		return nil, err
	}
	r := &controllers.EtcdClusterReconciler{
		Client:    mgr.GetClient(),
		Scheme:    mgr.GetScheme(),
		Recorder:  mgr.GetEventRecorder("quorum-operator"),
		APIReader: mgr.GetAPIReader(),
		Render:    render.Options{ImageRepository: "quorum.dev/etcd-server", ClusterDomain: etcdv1.DefaultClusterDomain},
		Clients:   controllers.NewClientCache(),
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	br := &controllers.EtcdBackupReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("quorum-operator"), Render: r.Render}
	if err := br.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	rr := &controllers.EtcdRestoreReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("quorum-operator"), Render: r.Render}
	if err := rr.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	sr := &controllers.EtcdBackupScheduleReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("quorum-operator"), Stores: controllers.S3Stores{Reader: mgr.GetAPIReader()}}
	if err := sr.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	return mgr, nil
}

// cacheOptions is a copy of main.go's (all namespaces): only managed
// objects of the child kinds are cached.
func cacheOptions() cache.Options {
	managed := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{etcdv1.LabelManagedBy: etcdv1.ManagedByValue})}
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}:                managed,
		&corev1.ConfigMap{}:             managed,
		&corev1.Service{}:               managed,
		&appsv1.StatefulSet{}:           managed,
		&policyv1.PodDisruptionBudget{}: managed,
		&networkingv1.NetworkPolicy{}:   managed,
		&batchv1.Job{}:                  managed,
	}}
}
