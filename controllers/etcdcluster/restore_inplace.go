package etcdcluster

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/podutil"
	"quorum.dev/etcd-operator/controllers/internal/restores"
	"quorum.dev/etcd-operator/controllers/render"
)

// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdrestores,verbs=get;list;watch

// The cluster's side of an in-place restore (EtcdRestore). The
// EtcdRestore controller verifies the snapshot and then moves the restore
// to Restoring; from there this reconciler:
//
//  1. names the restore in the ConfigMap (restore-id) and lists every
//     desired member as the initial cluster;
//  2. renders the StatefulSet at the desired size with an init container
//     that replaces the member's data dir with the snapshot (once per
//     restore ID, keeping the old data dir aside) under a new cluster
//     token, and stamps the restore ID on the pod template;
//  3. deletes every member pod not yet made from that template, all at
//     once: the old members stop, the new ones start from the snapshot;
//  4. once every member runs from the snapshot and is healthy, clears
//     restore-id (members created later join normally) and records the
//     restore as done in status.restore, which the EtcdRestore controller
//     reports.
//
// If the members' restore fails on the way (a restore init container
// failing again and again, or InPlaceRestoreDeadline passed), every
// member is put back on the data dir it had before: restore_undo.go.
//
// Membership changes, rollouts and auth wait while a restore is active.
// Each step is safe to repeat: the marker in the data dir makes a second
// restore under the same ID a no-op.

// inPlaceRestore finds the EtcdRestore whose init container the members
// carry: the one being carried out, else the last one that succeeded.
func (r *Reconciler) inPlaceRestore(ctx context.Context, c *etcdv1.EtcdCluster) (*etcdv1.EtcdRestore, error) {
	list := &etcdv1.EtcdRestoreList{}
	if err := r.List(ctx, list, client.InNamespace(c.Namespace)); err != nil {
		return nil, fmt.Errorf("listing EtcdRestores: %w", err)
	}
	var found []etcdv1.EtcdRestore
	for _, x := range list.Items {
		deleted := !x.DeletionTimestamp.IsZero() && x.Status.Phase != etcdv1.RestoreRestoring
		if x.Spec.ClusterName != c.Name || x.Status.RestoreID == "" || deleted {
			continue
		}
		if x.Status.Phase == etcdv1.RestoreRestoring || x.Status.Phase == etcdv1.RestoreSucceeded {
			found = append(found, x)
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	// Restoring first, then the most recently started.
	sort.SliceStable(found, func(i, j int) bool {
		a, b := found[i], found[j]
		if (a.Status.Phase == etcdv1.RestoreRestoring) != (b.Status.Phase == etcdv1.RestoreRestoring) {
			return a.Status.Phase == etcdv1.RestoreRestoring
		}
		return startOf(&a).After(startOf(&b).Time)
	})
	return &found[0], nil
}

func startOf(x *etcdv1.EtcdRestore) metav1.Time {
	if x.Status.StartTime != nil {
		return *x.Status.StartTime
	}
	return x.CreationTimestamp
}

// resolveInPlaceRestore sets the pass's restore source from the cluster's
// EtcdRestore, and starts carrying out one that is Restoring. It reports
// whether an EtcdRestore applies.
func (r *Reconciler) resolveInPlaceRestore(ctx context.Context, p *pass) (bool, error) {
	c := p.cluster
	x, err := r.inPlaceRestore(ctx, c)
	if err != nil || x == nil {
		return false, err
	}
	if x.Spec.FromSurvivor != nil {
		if x.Status.Phase == etcdv1.RestoreRestoring && !restores.Done(c, x) {
			p.inPlace = x
			return false, r.startSurvivorRecovery(ctx, p, x)
		}
		return false, nil
	}
	if x.Status.Phase == etcdv1.RestoreRestoring {
		undo, err := r.judgeInPlaceRestore(ctx, p, x)
		if err != nil {
			return true, err
		}
		if undo {
			return r.undoInPlaceRestore(ctx, p, x)
		}
	}
	src, err := restores.Source(ctx, r.Client, x)
	var notReady *restores.NotReadyError
	if errors.As(err, &notReady) {
		err = &specError{etcdv1.ReasonRestoreSourceNotReady, notReady.Msg}
	}
	if err != nil {
		if x.Status.Phase != etcdv1.RestoreRestoring {
			// Done long ago and its backup is gone: members keep their data;
			// the init container goes.
			return false, nil
		}
		return true, err
	}
	src.InPlaceID, src.ExpectSHA256 = x.Status.RestoreID, x.Status.SHA256
	p.restore = src
	if x.Status.Phase != etcdv1.RestoreRestoring || restores.Done(c, x) {
		log.FromContext(ctx).V(1).Info("restore decision: members keep the restore's init container, nothing to carry out",
			"restore", x.Name, "phase", x.Status.Phase, "restoreID", x.Status.RestoreID)
		return true, nil
	}
	p.inPlace = x
	log.FromContext(ctx).V(1).Info("restore decision: carrying out an in-place restore", "restore", x.Name, "restoreID", x.Status.RestoreID,
		"configMapRestoreID", p.boot.RestoreID, "desired", c.DesiredReplicas())
	if c.Status.Restore == nil || c.Status.Restore.RestoreID != x.Status.RestoreID {
		now := metav1.NewTime(r.now())
		c.Status.Restore = &etcdv1.ClusterRestoreStatus{Name: x.Name, RestoreID: x.Status.RestoreID, StartTime: &now}
		if p.boot.RestoreID != x.Status.RestoreID {
			// What the members had: a failed restore puts it back.
			c.Status.Restore.PreviousInitialCluster, c.Status.Restore.PreviousInitialClusterState = p.boot.InitialCluster, p.boot.State
		}
		r.Recorder.Eventf(c, x, corev1.EventTypeWarning, "RestoreStarted", "Restore",
			"stopping every member to restore them in place from %s (EtcdRestore %s)", x.Status.Location, x.Name)
	}
	initial := render.InitialCluster(c, c.DesiredReplicas(), r.Render.Domain())
	why := fmt.Sprintf("EtcdRestore %s is restoring every desired member in place", x.Name)
	return true, r.setBootstrap(ctx, p, why, func(b *render.Bootstrap) {
		b.RestoreID, b.InitialCluster, b.State = x.Status.RestoreID, initial, render.StateExisting
	})
}

// stopOldMembers deletes every member pod that was not made from the
// restore's template, so that each starts again through the restore.
func (r *Reconciler) stopOldMembers(ctx context.Context, p *pass) error {
	if p.inPlace == nil {
		return nil
	}
	if p.inPlace.Spec.FromSurvivor != nil {
		return r.stopForSurvivor(ctx, p)
	}
	if rollingBack(p.cluster, p.inPlace) {
		return r.stopForUndo(ctx, p)
	}
	c, id := p.cluster, p.inPlace.Status.RestoreID
	stopped, err := podutil.Restart(ctx, r.Client, c, func(pod *corev1.Pod) bool { return pod.Annotations[render.AnnotationRestoreID] != id })
	if err != nil {
		return err
	}
	if stopped > 0 {
		log.FromContext(ctx).V(1).Info("restore decision: stopped the members not made from the restore's template", "restore", p.inPlace.Name, "stopped", stopped)
		r.Recorder.Eventf(c, p.inPlace, corev1.EventTypeNormal, "MembersStopped", "Restore", "stopped %d member pod(s) to restore them from the snapshot", stopped)
	}
	return nil
}

// finishRestore records the restore as done once every desired member
// runs from the snapshot and is healthy, and clears restore-id.
func (r *Reconciler) finishRestore(ctx context.Context, p *pass) error {
	if p.inPlace == nil {
		return nil
	}
	if p.inPlace.Spec.FromSurvivor != nil {
		return r.finishSurvivor(ctx, p)
	}
	if rollingBack(p.cluster, p.inPlace) {
		return r.finishUndo(ctx, p)
	}
	c, id := p.cluster, p.inPlace.Status.RestoreID
	desired := int(c.DesiredReplicas())
	restored, settled, err := r.membersSettledOn(ctx, p, render.AnnotationRestoreID, id)
	if err != nil || !settled {
		log.FromContext(ctx).V(1).Info("restore decision: not finished yet", "restore", p.inPlace.Name, "desired", desired,
			"podsFromSnapshotReady", restored, "contacted", p.obs.contacted, "members", len(p.obs.list), "healthyVoters", p.obs.healthyVoters())
		return err
	}
	why := fmt.Sprintf("all %d members run from the snapshot and are healthy", desired)
	if err := r.setBootstrap(ctx, p, why, func(b *render.Bootstrap) { b.RestoreID = "" }); err != nil {
		return err
	}
	now := metav1.NewTime(r.now())
	c.Status.Restore.Done, c.Status.Restore.CompletionTime = true, &now
	c.Status.Restore.ClusterID = fmt.Sprintf("%x", p.obs.clusterID)
	r.Recorder.Eventf(c, p.inPlace, corev1.EventTypeNormal, "Restored", "Restore",
		"every member restored from %s; new cluster ID %x", p.inPlace.Status.Location, p.obs.clusterID)
	p.inPlace = nil
	return nil
}

// membersSettledOn counts the member pods made from the template whose
// annotation key is id, ready and not being deleted, and tells whether
// every desired member runs from it and answers as a healthy voter (the
// end of an in-place restore, and of its undo).
func (r *Reconciler) membersSettledOn(ctx context.Context, p *pass, key, id string) (int, bool, error) {
	c := p.cluster
	desired := int(c.DesiredReplicas())
	pods, err := podutil.ListMembers(ctx, r.Client, c)
	if err != nil {
		return 0, false, err
	}
	n := 0
	for i := range pods {
		pod := &pods[i]
		if pod.Annotations[key] == id && pod.DeletionTimestamp.IsZero() && podutil.Ready(pod) {
			n++
		}
	}
	settled := n >= desired && p.obs.contacted && len(p.obs.list) == desired && p.obs.healthyVoters() == desired
	return n, settled, nil
}
