package etcdcluster

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=podmonitors,verbs=get;create;patch;delete

// applyMonitoring applies the PodMonitor when asked for, and deletes the
// one the operator made when it no longer is. Without the Prometheus
// Operator's CRDs, asking for one is reported; not asking is fine.
func (r *Reconciler) applyMonitoring(ctx context.Context, p *pass) error {
	c := p.cluster
	if c.Spec.Monitoring.PodMonitor {
		err := r.apply(ctx, c, render.PodMonitor(c))
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return &specError{etcdv1.ReasonMonitoringUnavailable, "monitoring.podMonitor is set but the PodMonitor CRD (monitoring.coreos.com/v1) is not installed"}
		}
		return err
	}
	pm := &unstructured.Unstructured{}
	pm.SetGroupVersionKind(render.PodMonitorGVK)
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.Name}, pm)
	switch {
	case meta.IsNoMatchError(err) || apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading podmonitor: %w", err)
	case !metav1.IsControlledBy(pm, c):
		return nil
	}
	if err := r.Delete(ctx, pm); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting podmonitor: %w", err)
	}
	return nil
}
