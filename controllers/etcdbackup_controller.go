package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// requeueBackupWait: how soon to look again at a backup whose cluster is
// not available yet.
const requeueBackupWait = 15 * time.Second

// EtcdBackupReconciler runs each EtcdBackup once, as a Job, and records
// what the Job reports.
type EtcdBackupReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	Render   render.Options
}

// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdbackups,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdbackups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete

// manifest is the part of quorum-etcd backup's report the status keeps.
type manifest struct {
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	EtcdRevision int64  `json:"etcdRevision"`
	ClusterID    string `json:"clusterID"`
	EtcdVersion  string `json:"etcdVersion"`
	Location     string `json:"location"`
}

// Reconcile: wait for the cluster to be available, create the Job, and
// when it ends copy its report into the status. A finished backup is never
// run again.
func (r *EtcdBackupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
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

func (r *EtcdBackupReconciler) step(ctx context.Context, b *etcdv1.EtcdBackup) (ctrl.Result, error) {
	b.Status.Key = render.BackupKey(b)
	job := &batchv1.Job{}
	err := r.Get(ctx, objectKey(b.Namespace, render.BackupJobName(b)), job)
	if apierrors.IsNotFound(err) {
		return r.start(ctx, b)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading job: %w", err)
	}
	b.Status.JobName = job.Name
	switch {
	case jobCondition(job, batchv1.JobComplete):
		return ctrl.Result{}, r.finish(ctx, b, job, true)
	case jobCondition(job, batchv1.JobFailed):
		return ctrl.Result{}, r.finish(ctx, b, job, false)
	}
	b.Status.Phase = etcdv1.BackupRunning
	setBackupCondition(b, etcdv1.BackupConditionComplete, false, etcdv1.ReasonJobRunning, "job "+job.Name+" is running")
	return ctrl.Result{}, nil
}

// start creates the Job once the cluster is available.
func (r *EtcdBackupReconciler) start(ctx context.Context, b *etcdv1.EtcdBackup) (ctrl.Result, error) {
	c := &etcdv1.EtcdCluster{}
	if err := r.Get(ctx, objectKey(b.Namespace, b.Spec.ClusterName), c); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		r.fail(b, etcdv1.ReasonClusterNotFound, fmt.Sprintf("EtcdCluster %s not found", b.Spec.ClusterName))
		return ctrl.Result{}, nil
	}
	if !meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable) {
		b.Status.Phase = etcdv1.BackupPending
		setBackupCondition(b, etcdv1.BackupConditionComplete, false, etcdv1.ReasonClusterUnavailable, "waiting for EtcdCluster "+c.Name+" to be available")
		return ctrl.Result{RequeueAfter: requeueBackupWait}, nil
	}
	job := render.BackupJob(b, c, r.Render)
	if err := controllerutil.SetControllerReference(b, job, r.Scheme); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, fmt.Errorf("creating job %s: %w", job.Name, err)
	}
	now := metav1.Now()
	b.Status.Phase, b.Status.JobName, b.Status.StartTime = etcdv1.BackupRunning, job.Name, &now
	setBackupCondition(b, etcdv1.BackupConditionComplete, false, etcdv1.ReasonJobRunning, "job "+job.Name+" started")
	r.Recorder.Eventf(b, job, corev1.EventTypeNormal, "BackupStarted", "StartBackup", "backing up %s to %s", c.Name, b.Status.Key)
	return ctrl.Result{}, nil
}

// finish reads the report the backup pod left in its termination message.
func (r *EtcdBackupReconciler) finish(ctx context.Context, b *etcdv1.EtcdBackup, job *batchv1.Job, ok bool) error {
	msg, err := jobTerminationMessage(ctx, r.Client, job)
	if err != nil {
		return err
	}
	now := metav1.Now()
	b.Status.CompletionTime = &now
	if !ok {
		if msg == "" {
			msg = "job " + job.Name + " failed without a message"
		}
		r.fail(b, etcdv1.ReasonJobFailed, msg)
		return nil
	}
	m := manifest{}
	if err := json.Unmarshal([]byte(lastLine(msg)), &m); err != nil || m.SHA256 == "" {
		r.fail(b, etcdv1.ReasonJobFailed, fmt.Sprintf("backup job succeeded but its report is unreadable: %q", msg))
		return nil
	}
	b.Status.Phase = etcdv1.BackupSucceeded
	b.Status.SHA256, b.Status.Revision, b.Status.ClusterID = m.SHA256, m.EtcdRevision, m.ClusterID
	b.Status.EtcdVersion, b.Status.Location = m.EtcdVersion, m.Location
	b.Status.Size = resource.NewQuantity(m.Size, resource.BinarySI)
	setBackupCondition(b, etcdv1.BackupConditionComplete, true, etcdv1.ReasonJobSucceeded, fmt.Sprintf("snapshot at revision %d stored at %s", m.EtcdRevision, m.Location))
	meta.SetStatusCondition(&b.Status.Conditions, metav1.Condition{Type: etcdv1.BackupConditionFailed, Status: metav1.ConditionFalse, Reason: etcdv1.ReasonJobSucceeded, ObservedGeneration: b.Generation})
	r.Recorder.Eventf(b, job, corev1.EventTypeNormal, "BackupSucceeded", "FinishBackup", "snapshot at revision %d (%d bytes) stored at %s", m.EtcdRevision, m.Size, m.Location)
	return nil
}

func (r *EtcdBackupReconciler) fail(b *etcdv1.EtcdBackup, reason, msg string) {
	b.Status.Phase = etcdv1.BackupFailed
	setBackupCondition(b, etcdv1.BackupConditionComplete, false, reason, msg)
	meta.SetStatusCondition(&b.Status.Conditions, metav1.Condition{Type: etcdv1.BackupConditionFailed, Status: metav1.ConditionTrue, Reason: reason, Message: msg, ObservedGeneration: b.Generation})
	r.Recorder.Eventf(b, nil, corev1.EventTypeWarning, "BackupFailed", "FinishBackup", "%s", msg)
}

// jobTerminationMessage is the termination message a Job's pod left: the
// report of quorum-etcd backup or restore --verify-only.
func jobTerminationMessage(ctx context.Context, r client.Reader, job *batchv1.Job) (string, error) {
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.InNamespace(job.Namespace), client.MatchingLabels{"batch.kubernetes.io/job-name": job.Name}); err != nil {
		return "", fmt.Errorf("listing pods of job %s: %w", job.Name, err)
	}
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && t.Message != "" {
				return strings.TrimSpace(t.Message), nil
			}
		}
	}
	return "", nil
}

func setBackupCondition(b *etcdv1.EtcdBackup, t string, ok bool, reason, msg string) {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&b.Status.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: b.Generation})
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// SetupWithManager registers the reconciler.
func (r *EtcdBackupReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&etcdv1.EtcdBackup{}).
		Owns(&batchv1.Job{}).
		Named("etcdbackup").
		Complete(r)
}
