package etcdcluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/podutil"
	"quorum.dev/etcd-operator/controllers/internal/restores"
	"quorum.dev/etcd-operator/controllers/render"
)

// Undoing an in-place restore whose members' side failed after they were
// stopped. The verification Job does what the members will do, so this
// is for what it cannot foresee (the snapshot removed meanwhile, a member
// volume without room, a member that never starts). Once a failure is
// seen (restoreFailure):
//
//  1. status.restore.failure records the cause; from then on the members'
//     template carries the undo init container (render.UndoneRestoreID),
//     which puts back the data dir the restore kept aside on every member
//     the restore reached, partly restored members included (mixing
//     cluster IDs would break the cluster), and no restore init container
//     of the failed restore;
//  2. the ConfigMap gets back restore-id "" and the initial cluster and
//     state the members had before (status.restore.previous*);
//  3. every member pod not made from that template is deleted at once;
//  4. once every desired member runs from it and is healthy,
//     status.restore.rolledBack is set and the EtcdRestore controller
//     ends the EtcdRestore Failed with the cause.
//
// Each step is safe to repeat: the undo is a no-op on a data dir that is
// not the failed restore's.

// InPlaceRestoreDeadline bounds the members' side of an in-place restore,
// counted from status.restore.startTime (when the members were stopped):
// a restore not finished by then is undone, so that the cluster is never
// down for longer. It covers the download and etcd's restore of the
// snapshot on every member, then their start.
const InPlaceRestoreDeadline = 20 * time.Minute

// restoreFailuresTolerated is how many times a member's restore init
// container may have been restarted after failing before the restore is
// undone: a cause the kubelet's retry may cure (a store briefly
// unreachable) gets two more tries, about half a minute of back-off.
const restoreFailuresTolerated = 2

// restoreFailure says why the in-place restore id, whose members were
// stopped at started, has failed on the members, or "" while it may still
// succeed: a member pod made from the restore's template whose restore
// init container failed again after restoreFailuresTolerated restarts
// (the cause is its termination message), else the deadline passed.
// Pods are looked at by name. Pure.
func restoreFailure(pods []corev1.Pod, id string, started, now time.Time) string {
	sorted := append([]corev1.Pod(nil), pods...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for i := range sorted {
		pod := &sorted[i]
		if pod.Annotations[render.AnnotationRestoreID] != id {
			continue
		}
		for _, cs := range pod.Status.InitContainerStatuses {
			if cs.Name != "restore" || cs.RestartCount < restoreFailuresTolerated {
				continue
			}
			// The attempt that counts is the current one when it has ended,
			// else the last one while the kubelet backs off before the next
			// (Waiting). A running attempt may still succeed: its
			// predecessors' failures are not its own.
			t := cs.State.Terminated
			if t == nil && cs.State.Waiting != nil {
				t = cs.LastTerminationState.Terminated
			}
			if t == nil || t.ExitCode == 0 {
				continue
			}
			msg := strings.TrimSpace(t.Message)
			if msg == "" {
				msg = fmt.Sprintf("exit code %d", t.ExitCode)
			}
			if len(msg) > 400 {
				msg = msg[:400] + "..."
			}
			return fmt.Sprintf("the restore init container of %s failed %d times: %s", pod.Name, cs.RestartCount+1, msg)
		}
	}
	if !started.IsZero() && now.Sub(started) >= InPlaceRestoreDeadline {
		return fmt.Sprintf("the members were not all restored within %s of being stopped", InPlaceRestoreDeadline)
	}
	return ""
}

// rollingBack tells whether the cluster is undoing the in-place restore x.
func rollingBack(c *etcdv1.EtcdCluster, x *etcdv1.EtcdRestore) bool {
	st := c.Status.Restore
	return x != nil && st != nil && st.RestoreID == x.Status.RestoreID && st.Failure != "" && !st.Done && !st.RolledBack
}

// judgeInPlaceRestore looks for a failure of the restore x on the members
// once they were stopped, and records it (status.restore.failure): the
// undo starts. It reports whether x is being undone.
func (r *Reconciler) judgeInPlaceRestore(ctx context.Context, p *pass, x *etcdv1.EtcdRestore) (bool, error) {
	c := p.cluster
	st := c.Status.Restore
	if st == nil || st.RestoreID != x.Status.RestoreID || st.Done || st.StartTime == nil {
		return false, nil
	}
	if st.Failure != "" {
		return true, nil
	}
	pods, err := podutil.ListMembers(ctx, r.Client, c)
	if err != nil {
		return false, err
	}
	cause := restoreFailure(pods, x.Status.RestoreID, st.StartTime.Time, r.now())
	if cause == "" {
		return false, nil
	}
	log.FromContext(ctx).V(1).Info("restore decision: the members' restore failed; putting every member back on its data from before the restore",
		"restore", x.Name, "restoreID", x.Status.RestoreID, "cause", cause)
	st.Failure = cause
	r.Recorder.Eventf(c, x, corev1.EventTypeWarning, "RestoreRollingBack", "Restore",
		"in-place restore %s failed: %s; putting every member back on its data from before the restore", x.Name, cause)
	return true, nil
}

// undoInPlaceRestore is the restore source step while x is being undone:
// the members' template is the one they had before x (the init container
// of the last in-place restore that succeeded; see render.UndoneRestoreID
// for the undo), and the ConfigMap gets back what the members had. It
// reports whether such an earlier restore gives the restore source; when
// none does, the cluster's own (spec.bootstrap.restore) applies, as
// before x.
func (r *Reconciler) undoInPlaceRestore(ctx context.Context, p *pass, x *etcdv1.EtcdRestore) (bool, error) {
	c := p.cluster
	st := c.Status.Restore
	if !st.RolledBack {
		p.inPlace = x
	}
	prev, err := r.previousInPlace(ctx, c, x)
	if err != nil {
		return false, err
	}
	if prev != nil {
		if src, err := restores.Source(ctx, r.Client, prev); err == nil {
			src.InPlaceID = prev.Status.RestoreID
			p.restore = src
		}
	}
	initial, state := st.PreviousInitialCluster, st.PreviousInitialClusterState
	if initial == "" {
		initial = render.InitialCluster(c, c.DesiredReplicas(), r.Render.Domain())
	}
	if state == "" {
		state = render.StateExisting
	}
	why := fmt.Sprintf("EtcdRestore %s failed on the members: %s", x.Name, st.Failure)
	return p.restore != nil, r.setBootstrap(ctx, p, why, func(b *render.Bootstrap) {
		b.RestoreID, b.InitialCluster, b.State = "", initial, state
	})
}

// previousInPlace is the last in-place restore of c that succeeded before
// x, whose init container the members carried before x, or nil.
func (r *Reconciler) previousInPlace(ctx context.Context, c *etcdv1.EtcdCluster, x *etcdv1.EtcdRestore) (*etcdv1.EtcdRestore, error) {
	list := &etcdv1.EtcdRestoreList{}
	if err := r.List(ctx, list, client.InNamespace(c.Namespace)); err != nil {
		return nil, fmt.Errorf("listing EtcdRestores: %w", err)
	}
	var found *etcdv1.EtcdRestore
	for i := range list.Items {
		o := &list.Items[i]
		if o.Name == x.Name || o.Spec.ClusterName != c.Name || o.Status.RestoreID == "" || o.Spec.FromSurvivor != nil ||
			o.Status.Phase != etcdv1.RestoreSucceeded || !o.DeletionTimestamp.IsZero() {
			continue
		}
		if found == nil || startOf(o).After(startOf(found).Time) {
			found = o
		}
	}
	return found, nil
}

// stopForUndo deletes every member pod not made from the undo's template.
func (r *Reconciler) stopForUndo(ctx context.Context, p *pass) error {
	c, id := p.cluster, p.inPlace.Status.RestoreID
	stopped, err := podutil.Restart(ctx, r.Client, c, func(pod *corev1.Pod) bool { return pod.Annotations[render.AnnotationRestoreUndone] != id })
	if err != nil {
		return err
	}
	if stopped > 0 {
		log.FromContext(ctx).V(1).Info("restore decision: restarted the members on their template from before the restore, with the undo",
			"restore", p.inPlace.Name, "stopped", stopped)
		r.Recorder.Eventf(c, p.inPlace, corev1.EventTypeWarning, "MembersStopped", "Restore",
			"restarted %d member pod(s) to put them back on their data from before the restore", stopped)
	}
	return nil
}

// finishUndo records the undo as done once every desired member runs
// from the undo's template and is healthy.
func (r *Reconciler) finishUndo(ctx context.Context, p *pass) error {
	c, id := p.cluster, p.inPlace.Status.RestoreID
	back, settled, err := r.membersSettledOn(ctx, p, render.AnnotationRestoreUndone, id)
	if err != nil || !settled {
		log.FromContext(ctx).V(1).Info("restore decision: undo not finished yet", "restore", p.inPlace.Name, "desired", c.DesiredReplicas(),
			"podsBackReady", back, "contacted", p.obs.contacted, "members", len(p.obs.list), "healthyVoters", p.obs.healthyVoters())
		return err
	}
	now := metav1.NewTime(r.now())
	c.Status.Restore.RolledBack, c.Status.Restore.CompletionTime = true, &now
	c.Status.Restore.ClusterID = fmt.Sprintf("%x", p.obs.clusterID)
	log.FromContext(ctx).V(1).Info("restore decision: every member is back on its data from before the restore", "restore", p.inPlace.Name,
		"clusterID", c.Status.Restore.ClusterID)
	r.Recorder.Eventf(c, p.inPlace, corev1.EventTypeWarning, "RestoreRolledBack", "Restore",
		"in-place restore %s failed (%s); every member is back on its data from before the restore (cluster ID %x)",
		p.inPlace.Name, c.Status.Restore.Failure, p.obs.clusterID)
	p.inPlace = nil
	return nil
}
