package etcdcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// appliedObjects remembers, per object, the digest of what was last applied
// and the resourceVersion the API server returned, so that an idle cluster
// costs no API writes: an object is applied again only when the rendering
// changed or the object changed since (someone edited it, its status moved).
type appliedObjects struct {
	mu sync.Mutex
	m  map[string]appliedObject
}

type appliedObject struct{ digest, resourceVersion string }

func (a *appliedObjects) unchanged(key, digest, resourceVersion string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[key]
	return ok && e.digest == digest && e.resourceVersion == resourceVersion && resourceVersion != ""
}

func (a *appliedObjects) record(key, digest, resourceVersion string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]appliedObject{}
	}
	a.m[key] = appliedObject{digest, resourceVersion}
}

// apply server-side applies a rendered object under FieldOwner, owned by the
// cluster. Only the fields the renderer set are claimed; fields other
// writers set (labels, annotations, defaults) are left alone. An object
// whose rendering and live version are both as last applied is skipped.
func (r *Reconciler) apply(ctx context.Context, owner *etcdv1.EtcdCluster, obj client.Object) error {
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

	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	sum := sha256.Sum256(raw)
	digest := hex.EncodeToString(sum[:])
	key := gvk.String() + "/" + obj.GetNamespace() + "/" + obj.GetName()
	if live, err := r.Scheme.New(gvk); err == nil {
		if lo, ok := live.(client.Object); ok && r.Get(ctx, client.ObjectKeyFromObject(obj), lo) == nil &&
			r.applied.unchanged(key, digest, lo.GetResourceVersion()) {
			return nil
		}
	}
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	r.applied.record(key, digest, u.GetResourceVersion())
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
