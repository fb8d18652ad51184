package controllers

import (
	"fmt"
	"strings"

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
	"quorum.dev/etcd-operator/controllers/render"
)

// eventSource names the operator in the events it records.
const eventSource = "quorum-operator"

// Setup registers every reconciler of the operator with mgr: clusters,
// backups, restores and backup schedules. operatorNamespace is where the
// operator runs (NetworkPolicies let it in); empty when unknown.
func Setup(mgr ctrl.Manager, o render.Options, operatorNamespace string) error {
	rec := mgr.GetEventRecorder(eventSource)
	cr := &EtcdClusterReconciler{
		Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: rec, APIReader: mgr.GetAPIReader(),
		OperatorNamespace: operatorNamespace, Render: o, Clients: NewClientCache(),
	}
	br := &EtcdBackupReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: rec, Render: o}
	rr := &EtcdRestoreReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: rec, Render: o}
	sr := &EtcdBackupScheduleReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: rec, Render: o,
		Stores: S3Stores{Reader: mgr.GetAPIReader()}}
	for name, r := range map[string]interface{ SetupWithManager(ctrl.Manager) error }{
		"etcdcluster": cr, "etcdbackup": br, "etcdrestore": rr, "etcdbackupschedule": sr,
	} {
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", name, err)
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
