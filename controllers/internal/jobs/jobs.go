// Package jobs runs the operator's one-shot Jobs (backup, snapshot
// verification, prune, rollout preflight): create once, owned by the object they serve; see
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

// Pods lists the Job's pods through r. The cache is right for a running
// Job (its pods carry the operator's labels, and a pass that misses one
// looks again); a finished Job's report is read with Report.
func Pods(ctx context.Context, r client.Reader, job *batchv1.Job) ([]corev1.Pod, error) {
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.InNamespace(job.Namespace), client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
		return nil, fmt.Errorf("listing pods of job %s: %w", job.Name, err)
	}
	return pods.Items, nil
}

// Report is the report a finished Job's pod left in its termination
// message: that of quorum-etcd backup, restore --verify-only, prune or
// preflight, or why it failed; trimmed, empty when no pod has left one.
//
// api must read from the API server (the manager's GetAPIReader), never
// from the cache: the Job controller marks the Job Complete or Failed after
// it has seen the pod terminate, but the operator's cache may receive the
// Job's new status before the pod's, and then holds the pod as still
// running (no message) or not at all. Read from the cache, the report would
// be lost: a backup whose Job succeeded failed as unreadable, a
// verification's or preflight's refusal lost its reason. It is one List of
// the Job's pods, once per finished Job. A nil api is an error.
func Report(ctx context.Context, api client.Reader, job *batchv1.Job) (string, error) {
	if api == nil {
		return "", fmt.Errorf("reading the report of job %s: no API server reader (the reconciler's APIReader is not set)", job.Name)
	}
	pods, err := Pods(ctx, api, job)
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
