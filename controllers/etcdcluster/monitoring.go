package etcdcluster

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=podmonitors;prometheusrules,verbs=get;create;patch;delete

// monitoringObject is one optional Prometheus Operator object of the
// cluster: wanted or not, and how it is rendered.
type monitoringObject struct {
	field  string // the spec field asking for it, for messages
	gvk    schema.GroupVersionKind
	wanted bool
	render func() (*unstructured.Unstructured, error)
}

// applyMonitoring applies the PodMonitor and the PrometheusRule when asked
// for, and deletes those the operator made when they no longer are.
// Without the Prometheus Operator's CRDs, asking for one is not an error
// here: it is kept in p.monitoringUnavailable and reported by the last
// step (reportMonitoring), so that a missing CRD does not stop the pass
// before the members are looked after. Not asking is fine.
func (r *Reconciler) applyMonitoring(ctx context.Context, p *pass) error {
	c := p.cluster
	var missing []string
	for _, o := range []monitoringObject{
		{"monitoring.podMonitor", render.PodMonitorGVK, c.Spec.Monitoring.PodMonitor, func() (*unstructured.Unstructured, error) { return render.PodMonitor(c), nil }},
		{"monitoring.prometheusRule", render.PrometheusRuleGVK, c.Spec.Monitoring.PrometheusRule, func() (*unstructured.Unstructured, error) { return render.PrometheusRule(c) }},
	} {
		if !o.wanted {
			if err := r.deleteMonitoring(ctx, c, o.gvk); err != nil {
				return err
			}
			continue
		}
		obj, err := o.render()
		if err != nil {
			return err
		}
		err = r.apply(ctx, c, obj)
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			log.FromContext(ctx).V(1).Info("monitoring object not applied: its CRD is not installed", "kind", o.gvk.Kind)
			missing = append(missing, fmt.Sprintf("%s is set but the %s CRD (%s) is not installed", o.field, o.gvk.Kind, o.gvk.GroupVersion()))
			continue
		}
		if err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		p.monitoringUnavailable = &specError{etcdv1.ReasonMonitoringUnavailable,
			fmt.Sprintf("%s: install the Prometheus Operator's CRDs or unset the field; the operator looks again in %s", strings.Join(missing, "; "), requeueSpecError)}
	}
	return nil
}

// deleteMonitoring deletes the cluster's object of kind gvk if the
// operator made it (it is controlled by the cluster).
func (r *Reconciler) deleteMonitoring(ctx context.Context, c *etcdv1.EtcdCluster, gvk schema.GroupVersionKind) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.Name}, u)
	switch {
	case meta.IsNoMatchError(err) || apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading %s: %w", strings.ToLower(gvk.Kind), err)
	case !metav1.IsControlledBy(u, c):
		return nil
	}
	if err := r.Delete(ctx, u); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s: %w", strings.ToLower(gvk.Kind), err)
	}
	return nil
}

// reportMonitoring, the last step, reports a monitoring object that could
// not be applied (applyMonitoring) as the pass's spec error: the cluster
// is Degraded with reason MonitoringUnavailable.
func (r *Reconciler) reportMonitoring(_ context.Context, p *pass) error {
	if p.monitoringUnavailable != nil {
		return p.monitoringUnavailable
	}
	return nil
}
