// Package etcdbackup holds the EtcdBackup reconciler: each EtcdBackup runs
// once, as a Job (quorum-etcd backup) once its cluster is available, and its
// status keeps what the Job reported.
package etcdbackup

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
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
	"quorum.dev/etcd-operator/controllers/internal/jobs"
	"quorum.dev/etcd-operator/controllers/internal/podcause"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/contract"
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
	// APIReader reads a finished Job's pods from the API server, so its
	// report is never lost to a cache that has not seen the pod's last
	// status yet; nil reads through Client.
	APIReader client.Reader
}

// podReader is where a finished Job's pods are read from.
func (r *Reconciler) podReader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdbackups,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdbackups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete

// Reconcile: wait for the cluster to be available, create the Job, and
// when it ends copy its report into the status. A finished backup is never
// run again.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &etcdv1.EtcdBackup{}
	if err := r.Get(ctx, req.NamespacedName, b); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if b.Status.Phase == etcdv1.BackupSucceeded || b.Status.Phase == etcdv1.BackupFailed || !b.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	original := b.DeepCopy()
	result, err := r.step(ctx, b)
	if perr := r.Status().Patch(ctx, b, client.MergeFrom(original)); perr != nil && err == nil {
		err = fmt.Errorf("patching status: %w", perr)
	}
	return result, err
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
	cause, stuck, wait := stuckPod(pods, r.now(), podGrace)
	log.FromContext(ctx).V(1).Info("backup pod", "job", job.Name, "pods", len(pods), "cause", cause.Reason, "stuck", stuck, "message", cause.Message)
	if stuck {
		r.fail(b, etcdv1.ReasonBackupPodFailing, fmt.Sprintf("the backup pod cannot run: %s; the backup failed and its Job is deleted: "+
			"fix the cause and create a new EtcdBackup (a schedule makes the next one at its next slot)", cause))
		now := metav1.NewTime(r.now())
		b.Status.CompletionTime = &now
		if err := r.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("deleting job %s of a failed backup: %w", job.Name, err)
		}
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

// start creates the Job once the cluster is available.
func (r *Reconciler) start(ctx context.Context, b *etcdv1.EtcdBackup) (ctrl.Result, error) {
	c := &etcdv1.EtcdCluster{}
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
	job := render.BackupJob(b, c, r.Render)
	if _, err := jobs.Create(ctx, r.Client, r.Scheme, b, job); err != nil {
		return ctrl.Result{}, err
	}
	now := metav1.NewTime(r.now())
	b.Status.Phase, b.Status.JobName, b.Status.StartTime = etcdv1.BackupRunning, job.Name, &now
	conditions.Set(&b.Status.Conditions, b.Generation, etcdv1.BackupConditionComplete, false, etcdv1.ReasonJobRunning, "job "+job.Name+" started")
	r.Recorder.Eventf(b, job, corev1.EventTypeNormal, "BackupStarted", "StartBackup", "backing up %s to %s", c.Name, b.Status.Key)
	return ctrl.Result{}, nil
}

// finish reads the report the backup pod left in its termination message.
func (r *Reconciler) finish(ctx context.Context, b *etcdv1.EtcdBackup, job *batchv1.Job, ok bool) error {
	msg, err := jobs.TerminationMessage(ctx, r.podReader(), job)
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

func (r *Reconciler) fail(b *etcdv1.EtcdBackup, reason, msg string) {
	b.Status.Phase = etcdv1.BackupFailed
	conditions.Set(&b.Status.Conditions, b.Generation, etcdv1.BackupConditionComplete, false, reason, msg)
	conditions.Set(&b.Status.Conditions, b.Generation, etcdv1.BackupConditionFailed, true, reason, msg)
	r.Recorder.Eventf(b, nil, corev1.EventTypeWarning, "BackupFailed", "FinishBackup", "%s", msg)
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
