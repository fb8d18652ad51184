package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// apply server-side applies a rendered object under FieldOwner, owned by the
// cluster. Only the fields the renderer set are claimed; fields other
// writers set (labels, annotations, defaults) are left alone.
func (r *EtcdClusterReconciler) apply(ctx context.Context, owner *etcdv1.EtcdCluster, obj client.Object) error {
	gvk, err := apiutil.GVKForObject(obj, r.Scheme)
	if err != nil {
		return err
	}
	if err := controllerutil.SetControllerReference(owner, obj, r.Scheme); err != nil {
		return err
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("converting %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	delete(m, "status")
	prune(m)
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return nil
}

// prune drops null values and the empty status of embedded objects (claim
// templates), which typed Go structs always carry and apply must not claim.
func prune(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if val == nil {
				delete(t, k)
				continue
			}
			if k == "status" {
				if s, ok := val.(map[string]any); ok && len(s) == 0 {
					delete(t, k)
					continue
				}
			}
			prune(val)
		}
	case []any:
		for _, val := range t {
			prune(val)
		}
	}
}
