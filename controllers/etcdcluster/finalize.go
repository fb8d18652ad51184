package etcdcluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=delete

// unformedFinalizer is on a cluster only while it has never formed (its
// bootstrap state was never "existing"): deleting such a cluster deletes
// its volume claims, which hold no data worth keeping (a failed start: a
// bad version or option). Once the cluster has formed the finalizer is
// removed, so a formed cluster is deleted as before: claims follow the
// StatefulSet's retention policy (kept by default).
const unformedFinalizer = "etcd.quorum.dev/unformed-claims"

// trackFormation is a step: it keeps unformedFinalizer on the cluster
// exactly while the bootstrap state read this pass is not "existing".
func (r *Reconciler) trackFormation(ctx context.Context, p *pass) error {
	c := p.cluster
	want := p.boot.State != render.StateExisting
	if controllerutil.ContainsFinalizer(c, unformedFinalizer) == want {
		return nil
	}
	patch := client.MergeFrom(c.DeepCopy())
	if want {
		controllerutil.AddFinalizer(c, unformedFinalizer)
	} else {
		controllerutil.RemoveFinalizer(c, unformedFinalizer)
	}
	if err := r.Patch(ctx, c, patch); err != nil {
		return fmt.Errorf("updating finalizers: %w", err)
	}
	return nil
}

// finalize runs when a cluster is being deleted: a cluster that never
// formed loses its volume claims and, with them, the credentials Secrets
// that would outlive it (the generated root password Secret and the
// record of the applied password: no data holds that password), with an
// event saying so; any other keeps them (the Secrets live as long as the
// kept claims, see credentials.go). A Secret the user names
// (spec.auth.rootPasswordSecretName) is never deleted. Either way the
// finalizer goes.
//
// The claims of a cluster that never formed go only once its StatefulSet
// and member pods are gone: the StatefulSet controller makes a missing
// claim again for a pod that still waits for it, and garbage collection
// deletes the StatefulSet only after the cluster itself. So finalize
// deletes the StatefulSet first and comes back (a requeue after
// requeueFinalizing, the finalizer kept) until it and its pods are gone.
func (r *Reconciler) finalize(ctx context.Context, c *etcdv1.EtcdCluster) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(c, unformedFinalizer) {
		return ctrl.Result{}, nil
	}
	// Read from the API server, not the cache: the state may have become
	// "existing" a moment ago. Without a ConfigMap (deleted first by a
	// foreground deletion) nothing is known, and claims are kept.
	cm := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.ConfigMapName()}, cm)
	if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("reading configmap: %w", err)
	}
	neverFormed := err == nil && cm.Data[render.ConfigKeyInitialState] != render.StateExisting
	log.FromContext(ctx).V(1).Info("deleting cluster", "configMapFound", err == nil, "bootstrapState", cm.Data[render.ConfigKeyInitialState],
		"deleteClaims", neverFormed, "why", "claims of a cluster that never formed hold no data; otherwise they follow the retention policy")
	if neverFormed {
		left, err := r.stopMembers(ctx, c)
		if err != nil {
			return ctrl.Result{}, err
		}
		if left != "" {
			log.FromContext(ctx).V(1).Info("waiting before deleting the claims", "left", left,
				"why", "the StatefulSet controller would recreate a claim its pod still waits for")
			return ctrl.Result{RequeueAfter: requeueFinalizing}, nil
		}
		deleted, err := r.deleteClaims(ctx, c)
		if err != nil {
			return ctrl.Result{}, err
		}
		secrets, err := r.deleteCredentials(ctx, c)
		if err != nil {
			return ctrl.Result{}, err
		}
		if len(deleted) > 0 || len(secrets) > 0 {
			msg := "the cluster never formed, so its volume claims hold no data: deleted " + strings.Join(deleted, ", ")
			if len(deleted) == 0 {
				msg = "the cluster never formed and has no volume claims"
			}
			if len(secrets) > 0 {
				msg += "; no data holds its root password either: deleted secrets " + strings.Join(secrets, ", ")
			}
			r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "ClaimsDeleted", "Delete", "%s", msg)
		}
	}
	patch := client.MergeFrom(c.DeepCopy())
	controllerutil.RemoveFinalizer(c, unformedFinalizer)
	if err := r.Patch(ctx, c, patch); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("removing finalizer: %w", err)
	}
	return ctrl.Result{}, nil
}

// requeueFinalizing: how soon a deleted cluster that never formed is
// looked at again while its StatefulSet and pods go away.
const requeueFinalizing = 2 * time.Second

// stopMembers deletes the StatefulSet of c (its pods follow through
// garbage collection) and says what is left of it, read from the API
// server: "" once the StatefulSet and every member pod are gone, else
// e.g. "statefulset x, pods x-0, x-1".
func (r *Reconciler) stopMembers(ctx context.Context, c *etcdv1.EtcdCluster) (string, error) {
	var left []string
	sts := &appsv1.StatefulSet{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.StatefulSetName()}, sts)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return "", fmt.Errorf("reading statefulset: %w", err)
	default:
		left = append(left, "statefulset "+sts.Name)
		if sts.DeletionTimestamp.IsZero() {
			if err := r.Delete(ctx, sts, client.Preconditions{UID: &sts.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
				return "", fmt.Errorf("deleting statefulset %s: %w", sts.Name, err)
			}
		}
	}
	pods := &corev1.PodList{}
	if err := r.APIReader.List(ctx, pods, client.InNamespace(c.Namespace), client.MatchingLabels(c.SelectorLabels())); err != nil {
		return "", fmt.Errorf("listing member pods: %w", err)
	}
	var names []string
	for i := range pods.Items {
		names = append(names, pods.Items[i].Name)
	}
	if len(names) > 0 {
		sort.Slice(names, func(i, j int) bool { return byOrdinal(names[i], names[j]) })
		left = append(left, "pods "+strings.Join(names, ", "))
	}
	return strings.Join(left, ", "), nil
}

// olderThan reports whether obj was created before the cluster c: it was
// made for an earlier cluster of the same name whose claims were kept, and
// a cluster recreated on them adopts them (credentials.go). Such an object
// may hold data (or the password that data knows) even while the new
// cluster has not formed yet, so it is never deleted with it. Creation
// times have a one-second resolution; an object of an earlier cluster
// created in the same second as this one belongs to a cluster that lived
// under a second, which never formed either.
func olderThan(obj client.Object, c *etcdv1.EtcdCluster) bool {
	created := obj.GetCreationTimestamp()
	return created.Before(&c.CreationTimestamp)
}

// deleteClaims deletes the member volume claims of c (data-<cluster>-<n>)
// made for it (not older than c), read from the API server, and returns
// their names.
func (r *Reconciler) deleteClaims(ctx context.Context, c *etcdv1.EtcdCluster) ([]string, error) {
	list := &corev1.PersistentVolumeClaimList{}
	if err := r.APIReader.List(ctx, list, client.InNamespace(c.Namespace), client.MatchingLabels(c.SelectorLabels())); err != nil {
		return nil, fmt.Errorf("listing volume claims: %w", err)
	}
	var deleted []string
	for i := range list.Items {
		pvc := &list.Items[i]
		o, ok := c.MemberOrdinal(strings.TrimPrefix(pvc.Name, "data-"))
		if !ok || pvc.Name != c.MemberClaimName(o) || !pvc.DeletionTimestamp.IsZero() || olderThan(pvc, c) {
			continue
		}
		if err := r.Delete(ctx, pvc, client.Preconditions{UID: &pvc.UID}); client.IgnoreNotFound(err) != nil {
			return deleted, fmt.Errorf("deleting volume claim %s: %w", pvc.Name, err)
		}
		deleted = append(deleted, pvc.Name)
	}
	return deleted, nil
}

// deleteCredentials deletes the credentials Secrets of c that the operator
// made and that outlive the cluster: the generated root password Secret
// (only when the spec names none) and the record of the applied password,
// each only if it carries the operator's labels for c and is not older
// than c; read from the API server. It returns their names.
func (r *Reconciler) deleteCredentials(ctx context.Context, c *etcdv1.EtcdCluster) ([]string, error) {
	names := []string{c.RootPasswordRecordSecretName()}
	if c.Spec.Auth.RootPasswordSecretName == "" {
		names = append([]string{c.RootPasswordSecretName()}, names...)
	}
	var deleted []string
	for _, name := range names {
		s := &corev1.Secret{}
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return deleted, fmt.Errorf("reading secret %s: %w", name, err)
		}
		if s.Labels[etcdv1.LabelManagedBy] != etcdv1.ManagedByValue || s.Labels[etcdv1.LabelInstance] != c.Name || !s.DeletionTimestamp.IsZero() || olderThan(s, c) {
			continue
		}
		if err := r.Delete(ctx, s, client.Preconditions{UID: &s.UID}); client.IgnoreNotFound(err) != nil {
			return deleted, fmt.Errorf("deleting secret %s: %w", name, err)
		}
		deleted = append(deleted, name)
	}
	return deleted, nil
}
