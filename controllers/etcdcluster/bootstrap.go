package etcdcluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// The bootstrap state in the cluster's ConfigMap tells starting members
// how to start: initial-cluster-state (new until the cluster has formed),
// initial-cluster (the members a joining member asks), restore-id (the
// in-place restore whose init containers may still replace data dirs) and
// force-new-cluster ("<member>/<id>": the survivor of a recovery). This
// file is its one owner: the config step reads it into p.boot once per
// pass, and every change goes through setBootstrap.

// readBootstrap reads the bootstrap keys of the cluster ConfigMap. A
// cluster without one is new: it starts with its desired size.
func (r *Reconciler) readBootstrap(ctx context.Context, c *etcdv1.EtcdCluster) (render.Bootstrap, error) {
	cm := &corev1.ConfigMap{}
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.ConfigMapName()}, cm)
	if apierrors.IsNotFound(err) {
		return render.Bootstrap{State: render.StateNew, InitialCluster: render.InitialCluster(c, c.DesiredReplicas(), r.Render.Domain())}, nil
	}
	if err != nil {
		return render.Bootstrap{}, fmt.Errorf("reading configmap: %w", err)
	}
	b := render.Bootstrap{
		State:           cm.Data[render.ConfigKeyInitialState],
		InitialCluster:  cm.Data[render.ConfigKeyInitialCluster],
		RestoreID:       cm.Data[render.ConfigKeyRestoreID],
		ForceNewCluster: cm.Data[render.ConfigKeyForceNewCluster],
	}
	if b.State != render.StateExisting {
		b.State = render.StateNew
	}
	if b.InitialCluster == "" {
		b.InitialCluster = render.InitialCluster(c, c.DesiredReplicas(), r.Render.Domain())
	}
	return b, nil
}

// applyConfig is the config step: it reads the bootstrap state and applies
// the ConfigMap (bootstrap state, and the options file members made by an
// earlier operator version still mount from it).
func (r *Reconciler) applyConfig(ctx context.Context, p *pass) error {
	b, err := r.readBootstrap(ctx, p.cluster)
	if err != nil {
		return err
	}
	p.boot = b
	if p.legacyOptions, err = r.legacyOptions(ctx, p.cluster); err != nil {
		return err
	}
	return r.apply(ctx, p.cluster, render.ConfigMap(p.cluster, r.Render, p.boot, p.legacyOptions))
}

// setBootstrap changes the bootstrap state with change and writes it to the
// ConfigMap; why says what the pass saw. The pass's state follows only once
// the write succeeded. An unchanged state is not written again.
func (r *Reconciler) setBootstrap(ctx context.Context, p *pass, why string, change func(*render.Bootstrap)) error {
	next := p.boot
	change(&next)
	if next == p.boot {
		return nil
	}
	log.FromContext(ctx).V(1).Info("bootstrap state change", "why", why,
		"state", next.State, "initialCluster", next.InitialCluster, "restoreID", next.RestoreID, "forceNewCluster", next.ForceNewCluster,
		"previousState", p.boot.State, "previousRestoreID", p.boot.RestoreID, "previousForceNewCluster", p.boot.ForceNewCluster)
	if err := r.apply(ctx, p.cluster, render.ConfigMap(p.cluster, r.Render, next, p.legacyOptions)); err != nil {
		return fmt.Errorf("writing the bootstrap state: %w", err)
	}
	p.boot = next
	return nil
}
