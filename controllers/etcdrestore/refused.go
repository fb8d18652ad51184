package etcdrestore

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/jobs"
)

// requeueVerifyPod: how soon a Verifying restore whose Job has no pod
// looks again. A refusal of the pod (the Job controller's FailedCreate
// events) changes nothing the restore watches.
const requeueVerifyPod = 10 * time.Second

// verifyPodRefused follows the running verification Job's pod. While the
// Job has no pod it reads the Job's events: when the Job controller cannot
// create the pod (the API server refuses it: PodSecurity admission, a
// ResourceQuota, a LimitRange, a missing ServiceAccount) the Complete
// condition says so, with the refusal and what happens next. The restore
// keeps waiting in Verifying: the Job controller retries, so fixing the
// cause lets the verification go on, and the Job's deadline fails it
// otherwise; the cluster is not touched either way. Once the pod exists,
// the condition is set back to Verifying and the Job's own changes wake
// the restore.
func (r *Reconciler) verifyPodRefused(ctx context.Context, x *etcdv1.EtcdRestore, c *etcdv1.EtcdCluster, job *batchv1.Job) (ctrl.Result, error) {
	pods, err := jobs.Pods(ctx, r.Client, job)
	if err != nil {
		return ctrl.Result{}, err
	}
	refused := meta.FindStatusCondition(x.Status.Conditions, etcdv1.RestoreConditionComplete)
	wasRefused := refused != nil && refused.Reason == etcdv1.ReasonJobPodNotCreated
	if jobs.Unfinished(pods) {
		if wasRefused {
			r.condition(x, etcdv1.RestoreConditionComplete, false, etcdv1.ReasonVerifying,
				fmt.Sprintf("job %s created its pod and is checking the snapshot before restoring %s; the cluster is not touched yet", job.Name, c.Name))
		}
		return ctrl.Result{}, nil
	}
	refusal, err := jobs.PodCreateFailure(ctx, r.APIReader, job)
	if err != nil {
		return ctrl.Result{}, err
	}
	if refusal == "" {
		return ctrl.Result{RequeueAfter: requeueVerifyPod}, nil
	}
	log.FromContext(ctx).V(1).Info("verification pod refused by the API server; waiting for the Job controller's retries", "job", job.Name, "refusal", refusal)
	r.condition(x, etcdv1.RestoreConditionComplete, false, etcdv1.ReasonJobPodNotCreated, fmt.Sprintf(
		"job %s: %s; the restore waits in Verifying while the Job controller retries, and checks the snapshot once the pod is created: "+
			"fix the cause (the namespace's PodSecurity level, ResourceQuota or LimitRange, or the ServiceAccount); "+
			"it fails if the pod cannot be created by the Job's deadline%s; the cluster is not touched",
		job.Name, jobs.PodCreateMessage(refusal), deadlineOf(job)))
	return ctrl.Result{RequeueAfter: requeueRestoreWait}, nil
}

// deadlineOf is " (<time>)", when the Job's activeDeadlineSeconds runs
// out (counted from its startTime, else its creation), or "".
func deadlineOf(job *batchv1.Job) string {
	if job.Spec.ActiveDeadlineSeconds == nil {
		return ""
	}
	start := job.CreationTimestamp.Time
	if job.Status.StartTime != nil {
		start = job.Status.StartTime.Time
	}
	return " (" + start.Add(time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second).UTC().Format(time.RFC3339) + ")"
}

// failedWithoutReport is why a verification Job that failed without a
// report did: the refusal of its pod when there is one (the Job ran out
// its deadline without a pod), else its Failed condition.
func (r *Reconciler) failedWithoutReport(ctx context.Context, job *batchv1.Job) (string, error) {
	msg := "job " + job.Name + " failed without a message"
	for _, cond := range job.Status.Conditions {
		if cond.Type == batchv1.JobFailed && cond.Reason != "" {
			msg = fmt.Sprintf("job %s failed (%s) without a message", job.Name, cond.Reason)
		}
	}
	refusal, err := jobs.PodCreateFailure(ctx, r.APIReader, job)
	if err != nil || refusal == "" {
		return msg, err
	}
	return msg + ": " + jobs.PodCreateMessage(refusal), nil
}
