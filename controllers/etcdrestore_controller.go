package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

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
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// requeueRestoreWait: how soon to look again at a restore that waits for
// its cluster, its backup or another restore.
const requeueRestoreWait = 15 * time.Second

// EtcdRestoreReconciler takes an EtcdRestore through its phases:
//
//	Pending    the cluster exists, no older restore of it is unfinished and
//	           the snapshot's EtcdBackup has succeeded;
//	Verifying  a Job reads the whole snapshot and checks it; on failure the
//	           restore fails and the cluster is not touched;
//	Restoring  the EtcdCluster reconciler restores every member in place
//	           (see inplace_restore.go) and reports it in status.restore;
//	Succeeded / Failed.
type EtcdRestoreReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	Render   render.Options
}

// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdrestores,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdrestores/status,verbs=get;update;patch

// verifyReport is the part of quorum-etcd restore --verify-only's report
// the status keeps.
type verifyReport struct {
	Verified bool   `json:"verified"`
	Location string `json:"location"`
	SHA256   string `json:"sha256"`
	Revision int64  `json:"revision"`
}

// Reconcile moves the restore one phase on; the status is patched once.
func (r *EtcdRestoreReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
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
	if perr := r.Status().Patch(ctx, x, client.MergeFrom(original)); perr != nil && err == nil {
		err = fmt.Errorf("patching status: %w", perr)
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

func (r *EtcdRestoreReconciler) setFinalizer(ctx context.Context, x *etcdv1.EtcdRestore, on bool) error {
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

func (r *EtcdRestoreReconciler) step(ctx context.Context, x *etcdv1.EtcdRestore) (ctrl.Result, error) {
	c := &etcdv1.EtcdCluster{}
	if err := r.Get(ctx, objectKey(x.Namespace, x.Spec.ClusterName), c); err != nil {
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
func (r *EtcdRestoreReconciler) pending(ctx context.Context, x *etcdv1.EtcdRestore, c *etcdv1.EtcdCluster) (ctrl.Result, error) {
	if first, err := r.firstUnfinished(ctx, x); err != nil || first != x.Name {
		if err == nil {
			r.wait(x, etcdv1.ReasonAnotherRestore, fmt.Sprintf("EtcdRestore %s of the same cluster goes first", first))
		}
		return ctrl.Result{RequeueAfter: requeueRestoreWait}, err
	}
	if x.Spec.FromSurvivor != nil {
		return r.startFromSurvivor(x, c)
	}
	src, err := resolveRestoreSource(ctx, r.Client, x.Namespace, x)
	var se *specError
	if errors.As(err, &se) {
		if b := (&etcdv1.EtcdBackup{}); r.Get(ctx, objectKey(x.Namespace, x.Spec.BackupName), b) == nil && b.Status.Phase == etcdv1.BackupFailed {
			r.fail(x, etcdv1.ReasonSourceNotReady, fmt.Sprintf("EtcdBackup %s failed: nothing to restore", b.Name))
			return ctrl.Result{}, nil
		}
		r.wait(x, se.reason, se.msg)
		return ctrl.Result{RequeueAfter: requeueRestoreWait}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	job := render.VerifyJob(x, c, src, r.Render)
	if err := controllerutil.SetControllerReference(x, job, r.Scheme); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, fmt.Errorf("creating job %s: %w", job.Name, err)
	}
	now := metav1.Now()
	x.Status.Phase, x.Status.JobName, x.Status.StartTime = etcdv1.RestoreVerifying, job.Name, &now
	x.Status.RestoreID = restoreID(x)
	r.condition(x, etcdv1.RestoreConditionComplete, false, etcdv1.ReasonVerifying, "job "+job.Name+" is checking the snapshot; the cluster is not touched yet")
	r.Recorder.Eventf(x, job, corev1.EventTypeNormal, "Verifying", "Verify", "checking snapshot %s before restoring %s", src.Key, c.Name)
	return ctrl.Result{}, nil
}

// verifying waits for the verification Job.
func (r *EtcdRestoreReconciler) verifying(ctx context.Context, x *etcdv1.EtcdRestore, c *etcdv1.EtcdCluster) (ctrl.Result, error) {
	job := &batchv1.Job{}
	err := r.Get(ctx, objectKey(x.Namespace, render.VerifyJobName(x)), job)
	if apierrors.IsNotFound(err) {
		// Deleted behind our back: verify again.
		return r.pending(ctx, x, c)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading job: %w", err)
	}
	complete, failed := jobCondition(job, batchv1.JobComplete), jobCondition(job, batchv1.JobFailed)
	if !complete && !failed {
		return ctrl.Result{}, nil
	}
	msg, err := jobTerminationMessage(ctx, r.Client, job)
	if err != nil {
		return ctrl.Result{}, err
	}
	if failed {
		if msg == "" {
			msg = "job " + job.Name + " failed without a message"
		}
		r.fail(x, etcdv1.ReasonVerificationFailed, msg+"; the cluster was not touched")
		return ctrl.Result{}, nil
	}
	rep := verifyReport{}
	if err := json.Unmarshal([]byte(lastLine(msg)), &rep); err != nil || !rep.Verified {
		r.fail(x, etcdv1.ReasonVerificationFailed, fmt.Sprintf("verification job succeeded but its report is unreadable: %q; the cluster was not touched", msg))
		return ctrl.Result{}, nil
	}
	x.Status.Phase = etcdv1.RestoreRestoring
	x.Status.SHA256, x.Status.Location, x.Status.SnapshotRevision = rep.SHA256, rep.Location, rep.Revision
	r.condition(x, etcdv1.RestoreConditionComplete, false, etcdv1.ReasonMembersRestoring,
		fmt.Sprintf("snapshot verified (revision %d); restoring every member of %s", rep.Revision, c.Name))
	r.Recorder.Eventf(x, c, corev1.EventTypeNormal, "Verified", "Verify", "snapshot %s verified; restoring %s in place", rep.Location, c.Name)
	return ctrl.Result{}, nil
}

// restoring waits for the cluster to report the restore done.
func (r *EtcdRestoreReconciler) restoring(x *etcdv1.EtcdRestore, c *etcdv1.EtcdCluster) (ctrl.Result, error) {
	st := c.Status.Restore
	if st == nil || st.RestoreID != x.Status.RestoreID || !st.Done {
		return ctrl.Result{RequeueAfter: requeueRestoreWait}, nil
	}
	x.Status.Phase, x.Status.CompletionTime, x.Status.ClusterID = etcdv1.RestoreSucceeded, st.CompletionTime, st.ClusterID
	msg := fmt.Sprintf("every member of %s restored from revision %d; new cluster ID %s", c.Name, x.Status.SnapshotRevision, st.ClusterID)
	if x.Spec.FromSurvivor != nil {
		x.Status.Survivor = st.Survivor
		msg = fmt.Sprintf("%s of %s runs as a new cluster with all its data; the other members are being added back", st.Survivor, c.Name)
	}
	r.condition(x, etcdv1.RestoreConditionComplete, true, etcdv1.ReasonRestored, msg)
	r.condition(x, etcdv1.RestoreConditionFailed, false, etcdv1.ReasonRestored, "")
	r.Recorder.Eventf(x, c, corev1.EventTypeNormal, "Restored", "Restore", "%s", msg)
	return ctrl.Result{}, nil
}

// firstUnfinished is the oldest unfinished EtcdRestore of the same
// cluster: restores of one cluster run one at a time, oldest first.
func (r *EtcdRestoreReconciler) firstUnfinished(ctx context.Context, x *etcdv1.EtcdRestore) (string, error) {
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
func (r *EtcdRestoreReconciler) startFromSurvivor(x *etcdv1.EtcdRestore, c *etcdv1.EtcdCluster) (ctrl.Result, error) {
	if meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable) {
		r.fail(x, etcdv1.ReasonClusterHasQuorum, fmt.Sprintf("EtcdCluster %s has quorum: forcing a new cluster would throw healthy members away", c.Name))
		return ctrl.Result{}, nil
	}
	now := metav1.Now()
	x.Status.Phase, x.Status.StartTime, x.Status.RestoreID = etcdv1.RestoreRestoring, &now, restoreID(x)
	r.condition(x, etcdv1.RestoreConditionComplete, false, etcdv1.ReasonMembersRestoring, "forcing a new cluster from a surviving member of "+c.Name)
	r.Recorder.Eventf(x, c, corev1.EventTypeWarning, "ForceNewCluster", "Restore", "forcing a new cluster from a surviving member of %s", c.Name)
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

func (r *EtcdRestoreReconciler) wait(x *etcdv1.EtcdRestore, reason, msg string) {
	x.Status.Phase = etcdv1.RestorePending
	r.condition(x, etcdv1.RestoreConditionComplete, false, reason, msg)
}

func (r *EtcdRestoreReconciler) fail(x *etcdv1.EtcdRestore, reason, msg string) {
	now := metav1.Now()
	x.Status.Phase, x.Status.CompletionTime = etcdv1.RestoreFailed, &now
	r.condition(x, etcdv1.RestoreConditionComplete, false, reason, msg)
	r.condition(x, etcdv1.RestoreConditionFailed, true, reason, msg)
	r.Recorder.Eventf(x, nil, corev1.EventTypeWarning, "RestoreFailed", "Restore", "%s", msg)
}

func (r *EtcdRestoreReconciler) condition(x *etcdv1.EtcdRestore, t string, ok bool, reason, msg string) {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&x.Status.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: x.Generation})
}

// SetupWithManager registers the reconciler; a change of a cluster or of
// a backup wakes the unfinished restores that name it.
func (r *EtcdRestoreReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&etcdv1.EtcdRestore{}).
		Owns(&batchv1.Job{}).
		Watches(&etcdv1.EtcdCluster{}, handler.EnqueueRequestsFromMapFunc(r.restoresOf)).
		Watches(&etcdv1.EtcdBackup{}, handler.EnqueueRequestsFromMapFunc(r.restoresOf)).
		Named("etcdrestore").
		Complete(r)
}

func (r *EtcdRestoreReconciler) restoresOf(ctx context.Context, o client.Object) []reconcile.Request {
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
