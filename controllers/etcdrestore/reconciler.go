// Package etcdrestore holds the EtcdRestore reconciler, the restore's own
// side: it checks that nothing stands in the way, verifies the snapshot with
// a Job, and then waits for the EtcdCluster reconciler, which restores the
// members, to report the restore done.
package etcdrestore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/conditions"
	"quorum.dev/etcd-operator/controllers/internal/confirm"
	"quorum.dev/etcd-operator/controllers/internal/identity"
	"quorum.dev/etcd-operator/controllers/internal/jobs"
	"quorum.dev/etcd-operator/controllers/internal/restores"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/contract"
)

// requeueRestoreWait: how soon to look again at a restore that waits for
// its cluster, its backup or another restore.
const requeueRestoreWait = 15 * time.Second

// Reconciler takes an EtcdRestore through its phases:
//
//	Pending    the cluster exists, no older restore of it is unfinished,
//	           the snapshot's EtcdBackup has succeeded and the
//	           ServiceAccount its location names (if any) exists;
//	Verifying  a Job reads the whole snapshot and checks it; on failure the
//	           restore fails and the cluster is not touched;
//	Restoring  the EtcdCluster reconciler restores every member in place
//	           (package etcdcluster, restore_inplace.go and
//	           restore_survivor.go) and reports it in status.restore;
//	           if the members' restore fails, it puts every member back on
//	           its old data (restore_undo.go) and the restore ends Failed
//	           (reason RolledBack) once the cluster is back;
//	Succeeded / Failed.
type Reconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	Render   render.Options
	// Clock is time.Now unless a test sets it.
	Clock func() time.Time
	// APIReader reads from the API server (mgr.GetAPIReader()): a finished
	// Job's report (jobs.Report says why not from the cache). Required.
	APIReader client.Reader
}

// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdrestores,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdrestores/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch

// Reconcile moves the restore one phase on; the status is patched once.
// Each phase change is announced by one event (announce), recorded only
// once the status patch that makes the change has landed. That patch is
// made with an optimistic lock: a pass that read the restore before the
// previous pass's patch (a stale cache; the verification Job's creation
// wakes the next pass at once) cannot make the same change again, and
// is refused instead of announcing it twice.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	x := &etcdv1.EtcdRestore{}
	if err := r.Get(ctx, req.NamespacedName, x); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	finished := x.Status.Phase == etcdv1.RestoreSucceeded || x.Status.Phase == etcdv1.RestoreFailed
	if finished || (!x.DeletionTimestamp.IsZero() && x.Status.Phase != etcdv1.RestoreRestoring) {
		return ctrl.Result{}, r.setFinalizer(ctx, x, false)
	}
	original := x.DeepCopy()
	result, err := r.step(ctx, x)
	if x.Status.Phase != original.Status.Phase {
		c := meta.FindStatusCondition(x.Status.Conditions, etcdv1.RestoreConditionComplete)
		reason, msg := "", ""
		if c != nil {
			reason, msg = c.Reason, c.Message
		}
		log.FromContext(ctx).V(1).Info("restore decision", "cluster", x.Spec.ClusterName, "from", original.Status.Phase, "to", x.Status.Phase,
			"restoreID", x.Status.RestoreID, "reason", reason, "message", msg)
	}
	moved := x.Status.Phase != original.Status.Phase
	patch := client.MergeFrom(original)
	if moved {
		patch = client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})
	}
	perr := r.Status().Patch(ctx, x, patch)
	switch {
	case moved && apierrors.IsConflict(perr):
		// Read before the last patch landed: the watch brings the new
		// version, and the next pass starts from it.
		log.FromContext(ctx).V(1).Info("restore read before its last status patch; not moving it again", "phase", original.Status.Phase)
		return ctrl.Result{RequeueAfter: time.Second}, nil
	case perr != nil && err == nil:
		err = fmt.Errorf("patching status: %w", perr)
	case perr == nil && moved:
		r.announce(x, original.Status.Phase)
	}
	if err == nil {
		// A restore that has begun stopping members is carried to its end,
		// even if the EtcdRestore is deleted meanwhile.
		err = r.setFinalizer(ctx, x, x.Status.Phase == etcdv1.RestoreRestoring)
	}
	return result, err
}

// restoreFinalizer keeps an EtcdRestore that is restoring members until the
// cluster reports the restore done: abandoned half-way, some members would
// run the snapshot and others the old data.
const restoreFinalizer = "etcd.quorum.dev/restore-in-progress"

func (r *Reconciler) setFinalizer(ctx context.Context, x *etcdv1.EtcdRestore, on bool) error {
	if controllerutil.ContainsFinalizer(x, restoreFinalizer) == on {
		return nil
	}
	patch := client.MergeFrom(x.DeepCopy())
	if on {
		controllerutil.AddFinalizer(x, restoreFinalizer)
	} else {
		controllerutil.RemoveFinalizer(x, restoreFinalizer)
	}
	if err := r.Patch(ctx, x, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("updating finalizers: %w", err)
	}
	return nil
}

func (r *Reconciler) step(ctx context.Context, x *etcdv1.EtcdRestore) (ctrl.Result, error) {
	c := &etcdv1.EtcdCluster{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: x.Namespace, Name: x.Spec.ClusterName}, c); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		if x.Status.Phase == etcdv1.RestoreRestoring {
			r.fail(x, etcdv1.ReasonClusterDeleted, fmt.Sprintf("EtcdCluster %s was deleted during the restore", x.Spec.ClusterName))
			return ctrl.Result{}, nil
		}
		r.wait(x, etcdv1.ReasonWaitingForCluster, fmt.Sprintf("EtcdCluster %s not found", x.Spec.ClusterName))
		return ctrl.Result{RequeueAfter: requeueRestoreWait}, nil
	}
	switch x.Status.Phase {
	case etcdv1.RestoreVerifying:
		return r.verifying(ctx, x, c)
	case etcdv1.RestoreRestoring:
		return r.restoring(x, c)
	}
	return r.pending(ctx, x, c)
}

// pending starts the verification once nothing stands in the way.
func (r *Reconciler) pending(ctx context.Context, x *etcdv1.EtcdRestore, c *etcdv1.EtcdCluster) (ctrl.Result, error) {
	if first, err := r.firstUnfinished(ctx, x); err != nil || first != x.Name {
		if err == nil {
			r.wait(x, etcdv1.ReasonAnotherRestore, fmt.Sprintf("EtcdRestore %s of the same cluster goes first", first))
		}
		return ctrl.Result{RequeueAfter: requeueRestoreWait}, err
	}
	if x.Spec.FromSurvivor != nil {
		return r.startFromSurvivor(x, c)
	}
	src, err := restores.Source(ctx, r.Client, x)
	var notReady *restores.NotReadyError
	if errors.As(err, &notReady) {
		if b := (&etcdv1.EtcdBackup{}); r.Get(ctx, client.ObjectKey{Namespace: x.Namespace, Name: x.Spec.BackupName}, b) == nil && b.Status.Phase == etcdv1.BackupFailed {
			r.fail(x, etcdv1.ReasonSourceNotReady, fmt.Sprintf("EtcdBackup %s failed: nothing to restore", b.Name))
			return ctrl.Result{}, nil
		}
		r.wait(x, etcdv1.ReasonSourceNotReady, notReady.Msg)
		return ctrl.Result{RequeueAfter: requeueRestoreWait}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	// The verification Job and then the members' restore init container
	// run as the location's ServiceAccount, if it names one.
	missing, err := identity.MissingServiceAccount(ctx, r.APIReader, x.Namespace, src.Location)
	if err != nil {
		return ctrl.Result{}, err
	}
	if missing != "" {
		r.wait(x, etcdv1.ReasonServiceAccountMissing, fmt.Sprintf("%s; the restore waits, checked again every %s, "+
			"and verifies the snapshot once it exists; the cluster is not touched", missing, requeueRestoreWait))
		return ctrl.Result{RequeueAfter: requeueRestoreWait}, nil
	}
	// The members' image: the etcd version that will restore the snapshot.
	sts := &appsv1.StatefulSet{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.StatefulSetName()}, sts); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("reading statefulset: %w", err)
	} else if err != nil {
		sts = nil
	}
	job := render.VerifyJob(x, c, src, r.Render, render.MemberImage(sts))
	if _, err := jobs.Create(ctx, r.Client, r.Scheme, x, job); err != nil {
		return ctrl.Result{}, err
	}
	now := metav1.NewTime(r.now())
	x.Status.Phase, x.Status.JobName, x.Status.StartTime = etcdv1.RestoreVerifying, job.Name, &now
	x.Status.RestoreID = restoreID(x)
	r.condition(x, etcdv1.RestoreConditionComplete, false, etcdv1.ReasonVerifying,
		fmt.Sprintf("job %s is checking snapshot %s before restoring %s; the cluster is not touched yet", job.Name, src.Key, c.Name))
	return ctrl.Result{}, nil
}

// verifying waits for the verification Job.
func (r *Reconciler) verifying(ctx context.Context, x *etcdv1.EtcdRestore, c *etcdv1.EtcdCluster) (ctrl.Result, error) {
	job := &batchv1.Job{}
	err := confirm.Get(ctx, r.Client, r.APIReader, client.ObjectKey{Namespace: x.Namespace, Name: render.VerifyJobName(x)}, job)
	if apierrors.IsNotFound(err) {
		// Deleted behind our back: verify again.
		return r.pending(ctx, x, c)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading job: %w", err)
	}
	complete, failed := jobs.Complete(job), jobs.Failed(job)
	if !complete && !failed {
		return r.verifyPodRefused(ctx, x, c, job)
	}
	msg, err := jobs.Report(ctx, r.APIReader, job)
	if err != nil {
		return ctrl.Result{}, err
	}
	if failed {
		if msg == "" {
			if msg, err = r.failedWithoutReport(ctx, job); err != nil {
				return ctrl.Result{}, err
			}
		}
		r.fail(x, etcdv1.ReasonVerificationFailed, msg+"; the cluster was not touched")
		return ctrl.Result{}, nil
	}
	rep := contract.VerifyReport{}
	if err := contract.ReadReport(msg, &rep); err != nil || !rep.Verified {
		r.fail(x, etcdv1.ReasonVerificationFailed, fmt.Sprintf("verification job succeeded but its report is unreadable: %q; the cluster was not touched", msg))
		return ctrl.Result{}, nil
	}
	x.Status.Phase = etcdv1.RestoreRestoring
	x.Status.SHA256, x.Status.Location, x.Status.SnapshotRevision = rep.SHA256, rep.Location, rep.Revision
	r.condition(x, etcdv1.RestoreConditionComplete, false, etcdv1.ReasonMembersRestoring,
		fmt.Sprintf("snapshot %s verified (revision %d); restoring every member of %s in place", rep.Location, rep.Revision, c.Name))
	return ctrl.Result{}, nil
}

// restoring waits for the cluster to report the restore done.
func (r *Reconciler) restoring(x *etcdv1.EtcdRestore, c *etcdv1.EtcdCluster) (ctrl.Result, error) {
	if st := c.Status.Restore; st != nil && st.RestoreID == x.Status.RestoreID && st.Failure != "" && !st.Done {
		if st.RolledBack {
			r.fail(x, etcdv1.ReasonRolledBack, fmt.Sprintf("the members' restore failed after they were stopped: %s; every member of %s "+
				"was put back on its data from before the restore, and the cluster is available again with its old data (cluster ID %s)",
				st.Failure, c.Name, st.ClusterID))
			return ctrl.Result{}, nil
		}
		r.condition(x, etcdv1.RestoreConditionComplete, false, etcdv1.ReasonRollingBack, fmt.Sprintf("the members' restore failed after "+
			"they were stopped: %s; putting every member of %s back on its data from before the restore", st.Failure, c.Name))
		return ctrl.Result{RequeueAfter: requeueRestoreWait}, nil
	}
	if !restores.Done(c, x) {
		return ctrl.Result{RequeueAfter: requeueRestoreWait}, nil
	}
	st := c.Status.Restore
	x.Status.Phase, x.Status.CompletionTime, x.Status.ClusterID = etcdv1.RestoreSucceeded, st.CompletionTime, st.ClusterID
	msg := fmt.Sprintf("every member of %s restored from revision %d; new cluster ID %s", c.Name, x.Status.SnapshotRevision, st.ClusterID)
	if x.Spec.FromSurvivor != nil {
		x.Status.Survivor = st.Survivor
		msg = fmt.Sprintf("%s of %s runs as a new cluster with all its data; the other members are being added back", st.Survivor, c.Name)
	}
	r.condition(x, etcdv1.RestoreConditionComplete, true, etcdv1.ReasonRestored, msg)
	r.condition(x, etcdv1.RestoreConditionFailed, false, etcdv1.ReasonRestored, "")
	return ctrl.Result{}, nil
}

// firstUnfinished is the oldest unfinished EtcdRestore of the same
// cluster: restores of one cluster run one at a time, oldest first.
func (r *Reconciler) firstUnfinished(ctx context.Context, x *etcdv1.EtcdRestore) (string, error) {
	list := &etcdv1.EtcdRestoreList{}
	if err := r.List(ctx, list, client.InNamespace(x.Namespace)); err != nil {
		return "", fmt.Errorf("listing EtcdRestores: %w", err)
	}
	var open []etcdv1.EtcdRestore
	for _, o := range list.Items {
		if o.Spec.ClusterName == x.Spec.ClusterName && o.Status.Phase != etcdv1.RestoreSucceeded && o.Status.Phase != etcdv1.RestoreFailed {
			open = append(open, o)
		}
	}
	if len(open) == 0 {
		return x.Name, nil
	}
	sort.Slice(open, func(i, j int) bool {
		a, b := open[i], open[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	return open[0].Name, nil
}

// startFromSurvivor refuses a recovery the cluster does not need, and
// otherwise hands it to the cluster reconciler: there is no snapshot to
// verify.
func (r *Reconciler) startFromSurvivor(x *etcdv1.EtcdRestore, c *etcdv1.EtcdCluster) (ctrl.Result, error) {
	if meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable) {
		r.fail(x, etcdv1.ReasonClusterHasQuorum, fmt.Sprintf("EtcdCluster %s has quorum: forcing a new cluster would throw healthy members away", c.Name))
		return ctrl.Result{}, nil
	}
	now := metav1.NewTime(r.now())
	x.Status.Phase, x.Status.StartTime, x.Status.RestoreID = etcdv1.RestoreRestoring, &now, restoreID(x)
	r.condition(x, etcdv1.RestoreConditionComplete, false, etcdv1.ReasonMembersRestoring, "forcing a new cluster from a surviving member of "+c.Name)
	return ctrl.Result{}, nil
}

// restoreID names the restore in data dirs and tokens: short, from the UID.
func restoreID(x *etcdv1.EtcdRestore) string {
	id := string(x.UID)
	if len(id) > 8 {
		id = id[:8]
	}
	return id
}

func (r *Reconciler) wait(x *etcdv1.EtcdRestore, reason, msg string) {
	x.Status.Phase = etcdv1.RestorePending
	r.condition(x, etcdv1.RestoreConditionComplete, false, reason, msg)
}

func (r *Reconciler) fail(x *etcdv1.EtcdRestore, reason, msg string) {
	now := metav1.NewTime(r.now())
	x.Status.Phase, x.Status.CompletionTime = etcdv1.RestoreFailed, &now
	r.condition(x, etcdv1.RestoreConditionComplete, false, reason, msg)
	r.condition(x, etcdv1.RestoreConditionFailed, true, reason, msg)
}

// phaseEvent is the event that announces a change of phase from "from" to
// "to": its type, reason and action; ok is false for a change that is not
// announced (back to Pending). Pure.
func phaseEvent(from, to etcdv1.RestorePhase) (eventType, reason, action string, ok bool) {
	switch to {
	case etcdv1.RestoreVerifying:
		return corev1.EventTypeNormal, "Verifying", "Verify", true
	case etcdv1.RestoreRestoring:
		if from == etcdv1.RestoreVerifying {
			return corev1.EventTypeNormal, "Verified", "Verify", true
		}
		// Straight from Pending: a recovery from a survivor.
		return corev1.EventTypeWarning, "ForceNewCluster", "Restore", true
	case etcdv1.RestoreSucceeded:
		return corev1.EventTypeNormal, "Restored", "Restore", true
	case etcdv1.RestoreFailed:
		return corev1.EventTypeWarning, "RestoreFailed", "Restore", true
	}
	return "", "", "", false
}

// announce records the event of x's change of phase from "from"; its note
// is the Complete condition's message, its related object the
// verification Job (Verifying) or the cluster.
func (r *Reconciler) announce(x *etcdv1.EtcdRestore, from etcdv1.RestorePhase) {
	eventType, reason, action, ok := phaseEvent(from, x.Status.Phase)
	if !ok {
		return
	}
	note := ""
	if c := meta.FindStatusCondition(x.Status.Conditions, etcdv1.RestoreConditionComplete); c != nil {
		note = c.Message
	}
	var related runtime.Object = &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: x.Spec.ClusterName, Namespace: x.Namespace}}
	switch x.Status.Phase {
	case etcdv1.RestoreVerifying:
		related = &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: x.Status.JobName, Namespace: x.Namespace}}
	case etcdv1.RestoreFailed:
		related = nil
	}
	r.Recorder.Eventf(x, related, eventType, reason, action, "%s", note)
}

func (r *Reconciler) condition(x *etcdv1.EtcdRestore, t string, ok bool, reason, msg string) {
	conditions.Set(&x.Status.Conditions, x.Generation, t, ok, reason, msg)
}

// SetupWithManager registers the reconciler; a change of a cluster or of
// a backup wakes the unfinished restores that name it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&etcdv1.EtcdRestore{}).
		Owns(&batchv1.Job{}).
		Watches(&etcdv1.EtcdCluster{}, handler.EnqueueRequestsFromMapFunc(r.restoresOf)).
		Watches(&etcdv1.EtcdBackup{}, handler.EnqueueRequestsFromMapFunc(r.restoresOf)).
		Named("etcdrestore").
		Complete(r)
}

func (r *Reconciler) restoresOf(ctx context.Context, o client.Object) []reconcile.Request {
	list := &etcdv1.EtcdRestoreList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	_, isBackup := o.(*etcdv1.EtcdBackup)
	var out []reconcile.Request
	for _, x := range list.Items {
		named := x.Spec.ClusterName == o.GetName()
		if isBackup {
			named = x.Spec.BackupName == o.GetName()
		}
		if named && x.Status.Phase != etcdv1.RestoreSucceeded && x.Status.Phase != etcdv1.RestoreFailed {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: x.Namespace, Name: x.Name}})
		}
	}
	return out
}

func (r *Reconciler) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}
