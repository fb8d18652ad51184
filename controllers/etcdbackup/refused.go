package etcdbackup

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/conditions"
	"quorum.dev/etcd-operator/controllers/internal/jobs"
)

// podRefused handles a running Job none of whose pods is running: if the
// Job controller cannot create its pod (the API server refuses it:
// PodSecurity admission, a ResourceQuota, a LimitRange, a missing
// ServiceAccount), the backup says so at once and fails once the Job is
// podGrace old. Such a refusal gives the Job no condition, only Warning
// FailedCreate events: without this the backup would read Running until
// the Job's deadline (an hour). handled is false when nothing refuses the
// pod. The events are read from the API server, once per pass while the
// Job has no pod.
func (r *Reconciler) podRefused(ctx context.Context, b *etcdv1.EtcdBackup, job *batchv1.Job, pods []corev1.Pod) (result ctrl.Result, handled bool, err error) {
	if jobs.Unfinished(pods) {
		return ctrl.Result{}, false, nil
	}
	refusal, err := jobs.PodCreateFailure(ctx, r.APIReader, job)
	if err != nil || refusal == "" {
		return ctrl.Result{}, false, err
	}
	age := r.now().Sub(job.CreationTimestamp.Time)
	log.FromContext(ctx).V(1).Info("backup pod refused by the API server", "job", job.Name, "age", age, "grace", podGrace, "refusal", refusal)
	if age >= podGrace {
		// The Job is deleted once the Failed status is stored (stopJob).
		r.fail(b, etcdv1.ReasonJobPodNotCreated, jobs.PodCreateMessage(refusal)+"; the backup failed and its Job is deleted: "+
			"fix the cause (the namespace's PodSecurity level, ResourceQuota or LimitRange, or the ServiceAccount) "+
			"and create a new EtcdBackup (a schedule makes the next one at its next slot)")
		return ctrl.Result{}, true, nil
	}
	b.Status.Phase = etcdv1.BackupRunning
	conditions.Set(&b.Status.Conditions, b.Generation, etcdv1.BackupConditionComplete, false, etcdv1.ReasonJobPodNotCreated,
		fmt.Sprintf("job %s: %s; the Job controller retries, and the backup fails if the pod still cannot be created %s after the Job was created",
			job.Name, jobs.PodCreateMessage(refusal), podGrace))
	return ctrl.Result{RequeueAfter: min(podGrace-age, requeueRunning)}, true, nil
}
