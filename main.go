// Command manager runs the Quorum etcd operator.
package main

import (
	"flag"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/version"
	// Mozilla roots for public S3 endpoints: the image has no trust store.
	_ "quorum.dev/etcd-operator/internal/trustroots"
)

func main() {
	var (
		metricsAddr, probeAddr, imageRepo, tagSuffix, clusterDomain, watchNamespaces string
		leaderElect, metricsSecure                                                   bool
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address of the metrics endpoint; 0 disables it.")
	flag.BoolVar(&metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS (a self-signed certificate) to clients whose bearer token passes a TokenReview and a SubjectAccessReview for get on the non-resource URL /metrics; false serves plain HTTP to anyone.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one replica of the operator acts.")
	flag.StringVar(&imageRepo, "etcd-image-repository", "quorum.dev/etcd-server", "Repository of the bundled etcd server image; the tag is the cluster's spec.version followed by --etcd-image-tag-suffix.")
	flag.StringVar(&tagSuffix, "etcd-image-tag-suffix", version.ServerTagSuffix(), "Follows spec.version in the server image's tag; the default names this Quorum release, so an operator upgrade rolls the members onto its server build.")
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

	metricsOpts := metricsserver.Options{BindAddress: metricsAddr}
	if metricsSecure {
		// The filter authenticates the scraper's token (TokenReview) and
		// authorizes get on /metrics (SubjectAccessReview): the
		// quorum-operator-metrics-reader ClusterRole grants it.
		metricsOpts.SecureServing = true
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsOpts,
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "quorum-operator.etcd.quorum.dev",
		Cache:                  controllers.CacheOptions(watchNamespaces),
	})
	if err != nil {
		log.Error(err, "creating manager")
		os.Exit(1)
	}
	o := render.Options{ImageRepository: imageRepo, ImageTagSuffix: tagSuffix, ClusterDomain: clusterDomain}
	if err := controllers.Setup(mgr, controllers.Options{Render: o, OperatorNamespace: os.Getenv("POD_NAMESPACE")}); err != nil {
		log.Error(err, "setting up controllers")
		os.Exit(1)
	}
	utilruntime.Must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	utilruntime.Must(mgr.AddReadyzCheck("readyz", healthz.Ping))
	log.Info("starting manager", "version", version.Version, "etcdImageRepository", imageRepo, "etcdImageTagSuffix", tagSuffix, "watchNamespaces", watchNamespaces, "metricsSecure", metricsSecure)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "running manager")
		os.Exit(1)
	}
}
