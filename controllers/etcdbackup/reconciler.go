// Package etcdbackup holds the EtcdBackup reconciler: each EtcdBackup runs
// once, as a Job (quorum-etcd backup) once its cluster is available (at
// once for an external source), and its status keeps what the Job
// reported.
package etcdbackup

import (
	"context"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/conditions"
	"quorum.dev/etcd-operator/controllers/internal/identity"
	"quorum.dev/etcd-operator/controllers/internal/jobs"
	"quorum.dev/etcd-operator/controllers/internal/podcause"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/contract"
	"quorum.dev/etcd-operator/internal/opmetrics"
)

// requeueBackupWait: how soon to look again at a backup whose cluster is
// not available yet.
const requeueBackupWait = 15 * time.Second

// A running backup's pod is looked at every requeueRunning (the Job's
// status does not change while its pod cannot start); once it has been
// stuck (podcause: waiting cannot help) for podGrace since it was created,
// the backup fails.
const (
	requeueRunning = 10 * time.Second
	podGrace       = 30 * time.Second
)

// Reconciler runs each EtcdBackup once, as a Job, and records
// what the Job reports.
type Reconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	Render   render.Options
	// Clock is time.Now unless a test sets it.
	Clock func() time.Time
	// APIReader reads from the API server (mgr.GetAPIReader()): a finished
	// Job's report (jobs.Report says why not from the cache), the backup
	// before its Job is created, and users' Secrets (not in the cache).
	// Required.
	APIReader client.Reader
}

// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdbackups,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdbackups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

// Reconcile: wait for the cluster to be available (an external source is
// not waited for), check the Secrets the Job reads and the ServiceAccount
// it runs as, create the Job, and when it ends copy its report into the
// status. A finished backup is never run again: the Job is created only
// after the EtcdBackup, read again from the API server, is still not
// finished, and the status is patched only over the version this pass read
// (a pass that read an older one changes nothing and looks again).
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &etcdv1.EtcdBackup{}
	if err := r.Get(ctx, req.NamespacedName, b); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !b.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if finished(b) {
		return ctrl.Result{}, r.stopJob(ctx, b)
	}
	original := b.DeepCopy()
	result, err := r.step(ctx, b)
	if errors.Is(err, errOutOfDate) {
		log.FromContext(ctx).V(1).Info("backup read from an out-of-date cache; not acting on it", "phase", original.Status.Phase)
		return ctrl.Result{RequeueAfter: requeueOutOfDate}, nil
	}
	if equality.Semantic.DeepEqual(original.Status, b.Status) {
		return result, err
	}
	perr := r.Status().Patch(ctx, b, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}))
	switch {
	case apierrors.IsConflict(perr):
		// Read before the last change landed: the watch brings the new
		// version, and the next pass starts from it.
		log.FromContext(ctx).V(1).Info("backup changed since this pass read it; status not patched", "phase", original.Status.Phase)
		return ctrl.Result{RequeueAfter: requeueOutOfDate}, nil
	case perr != nil && err == nil:
		err = fmt.Errorf("patching status: %w", perr)
	case perr == nil && b.Status.Phase == etcdv1.BackupFailed:
		// Announced once, by the pass whose patch made it Failed.
		if c := meta.FindStatusCondition(b.Status.Conditions, etcdv1.BackupConditionFailed); c != nil {
			r.Recorder.Eventf(b, nil, corev1.EventTypeWarning, "BackupFailed", "FinishBackup", "%s", c.Message)
		}
		// The next pass (the watch brings the Failed status) deletes a
		// Job that has not finished (stopJob).
		result = ctrl.Result{RequeueAfter: requeueOutOfDate}
	}
	if perr == nil && finished(b) {
		// Counted once: this pass's patch (optimistically locked) stored
		// the result; finished backups return before reaching here.
		opmetrics.BackupsFinished.WithLabelValues(b.Namespace, b.Spec.ClusterName, string(b.Status.Phase)).Inc()
	}
	return result, err
}

// errOutOfDate: the pass read an EtcdBackup (or missed a Job) that the API
// server has moved past; it does nothing and looks again.
var errOutOfDate = errors.New("backup read from an out-of-date cache")

// requeueOutOfDate: how soon a pass that read an out-of-date backup looks
// again (the watch usually brings the new version sooner).
const requeueOutOfDate = time.Second

func finished(b *etcdv1.EtcdBackup) bool {
	return b.Status.Phase == etcdv1.BackupSucceeded || b.Status.Phase == etcdv1.BackupFailed
}

// stopJob deletes the Job of a Failed backup if it has not finished (its
// pod cannot run): a finished backup never keeps a Job running. A finished
// Job is kept: its pod's log tells what happened.
func (r *Reconciler) stopJob(ctx context.Context, b *etcdv1.EtcdBackup) error {
	if b.Status.Phase != etcdv1.BackupFailed {
		return nil
	}
	job := &batchv1.Job{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: render.BackupJobName(b)}, job); err != nil {
		return client.IgnoreNotFound(err)
	}
	if jobs.Complete(job) || jobs.Failed(job) || !job.DeletionTimestamp.IsZero() || !metav1.IsControlledBy(job, b) {
		return nil
	}
	log.FromContext(ctx).V(1).Info("deleting the unfinished job of a failed backup", "job", job.Name)
	if err := r.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting job %s of a failed backup: %w", job.Name, err)
	}
	return nil
}

func (r *Reconciler) step(ctx context.Context, b *etcdv1.EtcdBackup) (ctrl.Result, error) {
	if b.Status.Key == "" {
		b.Status.Key = render.BackupKey(b)
	}
	job := &batchv1.Job{}
	err := r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: render.BackupJobName(b)}, job)
	if apierrors.IsNotFound(err) {
		return r.start(ctx, b)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading job: %w", err)
	}
	b.Status.JobName = job.Name
	if b.Status.StartTime == nil {
		b.Status.StartTime = &job.CreationTimestamp
	}
	switch {
	case jobs.Complete(job):
		return ctrl.Result{}, r.finish(ctx, b, job, true)
	case jobs.Failed(job):
		return ctrl.Result{}, r.finish(ctx, b, job, false)
	}
	pods, err := jobs.Pods(ctx, r.Client, job)
	if err != nil {
		return ctrl.Result{}, err
	}
	if res, handled, err := r.podRefused(ctx, b, job, pods); handled || err != nil {
		return res, err
	}
	cause, stuck, wait := stuckPod(pods, r.now(), podGrace)
	log.FromContext(ctx).V(1).Info("backup pod", "job", job.Name, "pods", len(pods), "cause", cause.Reason, "stuck", stuck, "message", cause.Message)
	if stuck {
		// The Job is deleted once the Failed status is stored (stopJob).
		r.fail(b, etcdv1.ReasonBackupPodFailing, fmt.Sprintf("the backup pod cannot run: %s; the backup failed and its Job is deleted: "+
			"fix the cause and create a new EtcdBackup (a schedule makes the next one at its next slot)", cause))
		return ctrl.Result{}, nil
	}
	b.Status.Phase = etcdv1.BackupRunning
	msg := "job " + job.Name + " is running"
	if cause.Message != "" {
		msg += ": " + cause.String()
	}
	conditions.Set(&b.Status.Conditions, b.Generation, etcdv1.BackupConditionComplete, false, etcdv1.ReasonJobRunning, msg)
	return ctrl.Result{RequeueAfter: min(wait, requeueRunning)}, nil
}

// stuckPod tells whether the backup Job's pod cannot run: stuck is true
// once a pod has been stuck (podcause.Cause.Stuck: a missing Secret or key,
// an image that cannot be pulled, no node) and was created at least grace
// before now. Otherwise cause is why a pod is not ready yet, if one is not,
// and wait is how long until the grace of a stuck pod runs out (or
// requeueRunning). Pure.
func stuckPod(pods []corev1.Pod, now time.Time, grace time.Duration) (cause podcause.Cause, stuck bool, wait time.Duration) {
	wait = requeueRunning
	for i := range pods {
		pod := &pods[i]
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue // the Job's own conditions say how it ended
		}
		c, notReady := podcause.Of(pod)
		if !notReady {
			continue
		}
		cause = c
		if !c.Stuck {
			continue
		}
		age := now.Sub(pod.CreationTimestamp.Time)
		if age >= grace {
			return c, true, 0
		}
		wait = min(wait, grace-age)
	}
	return cause, false, wait
}

// start creates the Job once the cluster is available and the Secrets the
// Job reads are there. It first reads the EtcdBackup again from the API
// server: the cache may not have seen it fail or finish yet (or may not
// have seen its Job), and a finished backup never gets a Job again.
func (r *Reconciler) start(ctx context.Context, b *etcdv1.EtcdBackup) (ctrl.Result, error) {
	if jobGone, err := r.current(ctx, b); err != nil || jobGone {
		return ctrl.Result{}, err
	}
	// An external source (c stays nil) has no EtcdCluster to wait for: the
	// backup command reports an unreachable or unhealthy one.
	var c *etcdv1.EtcdCluster
	if b.Spec.External == nil {
		c = &etcdv1.EtcdCluster{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: b.Spec.ClusterName}, c); err != nil {
			if !apierrors.IsNotFound(err) {
				return ctrl.Result{}, err
			}
			r.fail(b, etcdv1.ReasonClusterNotFound, fmt.Sprintf("EtcdCluster %s not found", b.Spec.ClusterName))
			return ctrl.Result{}, nil
		}
		if !meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable) {
			b.Status.Phase = etcdv1.BackupPending
			conditions.Set(&b.Status.Conditions, b.Generation, etcdv1.BackupConditionComplete, false, etcdv1.ReasonClusterUnavailable, "waiting for EtcdCluster "+c.Name+" to be available")
			return ctrl.Result{RequeueAfter: requeueBackupWait}, nil
		}
	}
	missing, err := missingSecret(ctx, r.APIReader, b.Namespace, neededSecrets(b.Spec))
	if err != nil {
		return ctrl.Result{}, err
	}
	if missing != "" {
		r.fail(b, etcdv1.ReasonSecretMissing, fmt.Sprintf("%s; the backup failed before its Job was created: "+
			"create the Secret, then a new EtcdBackup (a schedule makes the next one at its next slot)", missing))
		return ctrl.Result{}, nil
	}
	missing, err = identity.MissingServiceAccount(ctx, r.APIReader, b.Namespace, b.Spec.Destination)
	if err != nil {
		return ctrl.Result{}, err
	}
	if missing != "" {
		r.fail(b, etcdv1.ReasonServiceAccountMissing, missing+"; the backup failed before its Job was created: "+
			"create the ServiceAccount, then a new EtcdBackup (a schedule makes the next one at its next slot)")
		return ctrl.Result{}, nil
	}
	job := render.BackupJob(b, c, r.Render)
	if _, err := jobs.Create(ctx, r.Client, r.Scheme, b, job); err != nil {
		return ctrl.Result{}, err
	}
	now := metav1.NewTime(r.now())
	b.Status.Phase, b.Status.JobName, b.Status.StartTime = etcdv1.BackupRunning, job.Name, &now
	conditions.Set(&b.Status.Conditions, b.Generation, etcdv1.BackupConditionComplete, false, etcdv1.ReasonJobRunning, "job "+job.Name+" started")
	r.Recorder.Eventf(b, job, corev1.EventTypeNormal, "BackupStarted", "StartBackup", "backing up %s to %s", b.Spec.Source(), b.Status.Key)
	return ctrl.Result{}, nil
}

// current checks b (read from the cache, its Job not found there) against
// the API server: errOutOfDate if the backup there is gone, finished or
// newer, or if its Job is there after all. A Job this backup started that
// is gone from the API server too (deleted by someone) fails the backup
// (jobGone): it is not run a second time.
func (r *Reconciler) current(ctx context.Context, b *etcdv1.EtcdBackup) (jobGone bool, err error) {
	fresh := &etcdv1.EtcdBackup{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(b), fresh); err != nil {
		if apierrors.IsNotFound(err) {
			return false, errOutOfDate
		}
		return false, fmt.Errorf("reading the backup from the API server: %w", err)
	}
	if finished(fresh) || fresh.ResourceVersion != b.ResourceVersion || !fresh.DeletionTimestamp.IsZero() {
		return false, errOutOfDate
	}
	if b.Status.JobName == "" {
		return false, nil
	}
	err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: b.Status.JobName}, &batchv1.Job{})
	switch {
	case err == nil:
		return false, errOutOfDate
	case !apierrors.IsNotFound(err):
		return false, fmt.Errorf("reading job %s from the API server: %w", b.Status.JobName, err)
	}
	r.fail(b, etcdv1.ReasonJobFailed, fmt.Sprintf("job %s was deleted before it reported; the backup failed and is not run again: create a new EtcdBackup", b.Status.JobName))
	return true, nil
}

// finish reads the report the backup pod left in its termination message.
func (r *Reconciler) finish(ctx context.Context, b *etcdv1.EtcdBackup, job *batchv1.Job, ok bool) error {
	msg, err := jobs.Report(ctx, r.APIReader, job)
	if err != nil {
		return err
	}
	now := metav1.NewTime(r.now())
	b.Status.CompletionTime = &now
	if !ok {
		if msg == "" {
			msg = "job " + job.Name + " failed without a message"
		}
		r.fail(b, etcdv1.ReasonJobFailed, msg)
		return nil
	}
	m := contract.BackupReport{}
	if err := contract.ReadReport(msg, &m); err != nil || m.SHA256 == "" {
		r.fail(b, etcdv1.ReasonJobFailed, fmt.Sprintf("backup job succeeded but its report is unreadable: %q", msg))
		return nil
	}
	b.Status.Phase = etcdv1.BackupSucceeded
	b.Status.SHA256, b.Status.Revision, b.Status.ClusterID = m.SHA256, m.EtcdRevision, m.ClusterID
	b.Status.EtcdVersion, b.Status.Location = m.EtcdVersion, m.Location
	b.Status.Size = resource.NewQuantity(m.Size, resource.BinarySI)
	if m.StoredSize > 0 {
		b.Status.StoredSize = resource.NewQuantity(m.StoredSize, resource.BinarySI)
	}
	conditions.Set(&b.Status.Conditions, b.Generation, etcdv1.BackupConditionComplete, true, etcdv1.ReasonJobSucceeded, fmt.Sprintf("snapshot at revision %d stored at %s", m.EtcdRevision, m.Location))
	conditions.Set(&b.Status.Conditions, b.Generation, etcdv1.BackupConditionFailed, false, etcdv1.ReasonJobSucceeded, "")
	r.Recorder.Eventf(b, job, corev1.EventTypeNormal, "BackupSucceeded", "FinishBackup", "snapshot at revision %d (%d bytes, %d stored) stored at %s", m.EtcdRevision, m.Size, m.StoredSize, m.Location)
	return nil
}

// fail marks the backup Failed; Reconcile records the Warning event once
// the status is stored.
func (r *Reconciler) fail(b *etcdv1.EtcdBackup, reason, msg string) {
	b.Status.Phase = etcdv1.BackupFailed
	if b.Status.CompletionTime == nil {
		now := metav1.NewTime(r.now())
		b.Status.CompletionTime = &now
	}
	conditions.Set(&b.Status.Conditions, b.Generation, etcdv1.BackupConditionComplete, false, reason, msg)
	conditions.Set(&b.Status.Conditions, b.Generation, etcdv1.BackupConditionFailed, true, reason, msg)
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&etcdv1.EtcdBackup{}).
		Owns(&batchv1.Job{}).
		Named("etcdbackup").
		Complete(r)
}

func (r *Reconciler) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}
