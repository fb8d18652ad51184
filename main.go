// Command manager runs the Quorum etcd operator.
package main

import (
	"flag"
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers"
	"quorum.dev/etcd-operator/controllers/render"
)

func main() {
	var (
		metricsAddr, probeAddr, imageRepo, clusterDomain, watchNamespaces string
		leaderElect                                                       bool
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address of the metrics endpoint; 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one replica of the operator acts.")
	flag.StringVar(&imageRepo, "etcd-image-repository", "quorum.dev/etcd-server", "Repository of the bundled etcd server image; the tag is the cluster's spec.version.")
	flag.StringVar(&clusterDomain, "cluster-domain", etcdv1.DefaultClusterDomain, "DNS suffix of the Kubernetes cluster.")
	flag.StringVar(&watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch; empty watches all.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(etcdv1.AddToScheme(scheme))

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "quorum-operator.etcd.quorum.dev",
		Cache:                  cacheOptions(watchNamespaces),
	})
	if err != nil {
		log.Error(err, "creating manager")
		os.Exit(1)
	}
	r := &controllers.EtcdClusterReconciler{
		Client:            mgr.GetClient(),
		Scheme:            mgr.GetScheme(),
		Recorder:          mgr.GetEventRecorder("quorum-operator"),
		APIReader:         mgr.GetAPIReader(),
		OperatorNamespace: os.Getenv("POD_NAMESPACE"),
		Render:            render.Options{ImageRepository: imageRepo, ClusterDomain: clusterDomain},
		Clients:           controllers.NewClientCache(),
	}
	if err := r.SetupWithManager(mgr); err != nil {
		log.Error(err, "setting up controller", "controller", "etcdcluster")
		os.Exit(1)
	}
	br := &controllers.EtcdBackupReconciler{
		Client:   mgr.GetClient(),
		Scheme:   mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("quorum-operator"),
		Render:   r.Render,
	}
	if err := br.SetupWithManager(mgr); err != nil {
		log.Error(err, "setting up controller", "controller", "etcdbackup")
		os.Exit(1)
	}
	rr := &controllers.EtcdRestoreReconciler{
		Client:   mgr.GetClient(),
		Scheme:   mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("quorum-operator"),
		Render:   r.Render,
	}
	if err := rr.SetupWithManager(mgr); err != nil {
		log.Error(err, "setting up controller", "controller", "etcdrestore")
		os.Exit(1)
	}
	sr := &controllers.EtcdBackupScheduleReconciler{
		Client:   mgr.GetClient(),
		Scheme:   mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("quorum-operator"),
		Stores:   controllers.S3Stores{Reader: mgr.GetAPIReader()},
		Render:   r.Render,
	}
	if err := sr.SetupWithManager(mgr); err != nil {
		log.Error(err, "setting up controller", "controller", "etcdbackupschedule")
		os.Exit(1)
	}
	utilruntime.Must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	utilruntime.Must(mgr.AddReadyzCheck("readyz", healthz.Ping))
	log.Info("starting manager", "etcdImageRepository", imageRepo, "watchNamespaces", watchNamespaces)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "running manager")
		os.Exit(1)
	}
}

// cacheOptions limits what the operator caches: the watched namespaces, and
// among Secrets, ConfigMaps, Services, StatefulSets and PDBs only the
// objects it manages.
func cacheOptions(watchNamespaces string) cache.Options {
	managed := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{etcdv1.LabelManagedBy: etcdv1.ManagedByValue})}
	o := cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}:                managed,
		&corev1.ConfigMap{}:             managed,
		&corev1.Service{}:               managed,
		&appsv1.StatefulSet{}:           managed,
		&policyv1.PodDisruptionBudget{}: managed,
		&networkingv1.NetworkPolicy{}:   managed,
		&batchv1.Job{}:                  managed,
	}}
	if watchNamespaces != "" {
		o.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range strings.Split(watchNamespaces, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				o.DefaultNamespaces[ns] = cache.Config{}
			}
		}
	}
	return o
}
