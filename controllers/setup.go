// Package controllers wires the operator's reconcilers into a
// controller-runtime manager (Setup) and says what the manager caches
// (CacheOptions). Each reconciler lives in a package of its own, and none
// imports another's: etcdcluster, etcdbackup, etcdrestore,
// etcdbackupschedule and etcduser. What they share is in small internal
// packages (internal/steps, internal/jobs, internal/podutil,
// internal/conditions, internal/restores, internal/rootclient,
// internal/testenv); pure helpers are in render, pki, membership,
// etcdclient and failpoint. This package's envtest suite drives the
// reconcilers through Setup, from the outside.
package controllers

// The metrics endpoint's authentication and authorization filter
// (controller-runtime metrics/filters, main.go) reviews each scraper's
// token and its access to /metrics with the API server.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdbackup"
	"quorum.dev/etcd-operator/controllers/etcdbackupschedule"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/etcdcluster"
	"quorum.dev/etcd-operator/controllers/etcdrestore"
	"quorum.dev/etcd-operator/controllers/etcduser"
	"quorum.dev/etcd-operator/controllers/render"
)

// eventSource names the operator in the events it records.
const eventSource = "quorum-operator"

// Options configure the reconcilers Setup registers.
type Options struct {
	// Render: image, cluster domain and other rendering choices.
	Render render.Options
	// OperatorNamespace is where the operator runs (NetworkPolicies let it
	// in); empty when unknown.
	OperatorNamespace string
	// Clock is time.Now unless a test sets it: certificate lifetimes,
	// schedule slots, restore and backup times.
	Clock func() time.Time
}

// Setup registers every reconciler of the operator with mgr, one package
// each: etcdcluster, etcdbackup, etcdrestore, etcdbackupschedule and
// etcduser. It is the one entry point for main, the benchmarks and the
// envtest suite.
func Setup(mgr ctrl.Manager, o Options) error {
	rec := mgr.GetEventRecorder(eventSource)
	cl, scheme, api := mgr.GetClient(), mgr.GetScheme(), mgr.GetAPIReader()
	reconcilers := []struct {
		name string
		r    interface{ SetupWithManager(ctrl.Manager) error }
	}{
		{"etcdcluster", &etcdcluster.Reconciler{
			Client: cl, Scheme: scheme, Recorder: rec, APIReader: api, Clock: o.Clock,
			OperatorNamespace: o.OperatorNamespace, Render: o.Render, Clients: etcdclient.NewClientCache(),
		}},
		{"etcdbackup", &etcdbackup.Reconciler{Client: cl, APIReader: api, Scheme: scheme, Recorder: rec, Render: o.Render, Clock: o.Clock}},
		{"etcdrestore", &etcdrestore.Reconciler{Client: cl, APIReader: api, Scheme: scheme, Recorder: rec, Render: o.Render, Clock: o.Clock}},
		{"etcdbackupschedule", &etcdbackupschedule.Reconciler{Client: cl, Scheme: scheme, Recorder: rec, Render: o.Render, Clock: o.Clock,
			APIReader: api, Stores: etcdbackupschedule.S3Stores{Reader: api}}},
		{"etcduser", &etcduser.Reconciler{Client: cl, Scheme: scheme, Recorder: rec, Render: o.Render, Clock: o.Clock,
			APIReader: api, Clients: etcdclient.NewClientCache()}},
	}
	for _, x := range reconcilers {
		if err := x.r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", x.name, err)
		}
	}
	return nil
}

// CacheOptions limits what the operator caches: the watched namespaces
// (comma-separated; empty for all), and among Secrets, ConfigMaps,
// Services, StatefulSets, PDBs, NetworkPolicies and Jobs only the objects
// it manages.
func CacheOptions(watchNamespaces string) cache.Options {
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
