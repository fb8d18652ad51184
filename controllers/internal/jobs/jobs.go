// Package jobs runs the operator's one-shot Jobs (backup, snapshot
// verification, prune): create once, owned by the object they serve; see
// whether they ended; read the report their pod left in its termination
// message (see package contract).
package jobs

import (
	"context"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// Create creates job, controlled by owner. A Job of the same name that
// exists already is not an error: created is false then.
func Create(ctx context.Context, c client.Client, scheme *runtime.Scheme, owner client.Object, job *batchv1.Job) (created bool, err error) {
	if err := controllerutil.SetControllerReference(owner, job, scheme); err != nil {
		return false, fmt.Errorf("owning job %s: %w", job.Name, err)
	}
	if err := c.Create(ctx, job); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		return false, fmt.Errorf("creating job %s: %w", job.Name, err)
	}
	return true, nil
}

// Complete reports whether the Job succeeded.
func Complete(j *batchv1.Job) bool { return hasCondition(j, batchv1.JobComplete) }

// Failed reports whether the Job failed for good.
func Failed(j *batchv1.Job) bool { return hasCondition(j, batchv1.JobFailed) }

func hasCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// Pods lists the Job's pods (from the cache: they carry the operator's
// labels).
func Pods(ctx context.Context, r client.Reader, job *batchv1.Job) ([]corev1.Pod, error) {
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.InNamespace(job.Namespace), client.MatchingLabels{"batch.kubernetes.io/job-name": job.Name}); err != nil {
		return nil, fmt.Errorf("listing pods of job %s: %w", job.Name, err)
	}
	return pods.Items, nil
}

// TerminationMessage is the termination message the Job's pod left: the
// report of quorum-etcd backup, restore --verify-only or prune, or why it
// failed. Empty when no pod has left one.
func TerminationMessage(ctx context.Context, r client.Reader, job *batchv1.Job) (string, error) {
	pods, err := Pods(ctx, r, job)
	if err != nil {
		return "", err
	}
	for _, p := range pods {
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && t.Message != "" {
				return strings.TrimSpace(t.Message), nil
			}
		}
	}
	return "", nil
}
