package etcdcluster

import (
	"context"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/jobs"
	"quorum.dev/etcd-operator/controllers/internal/podcause"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/contract"
)

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete

// preflightResult is what the preflight Job of one template says.
type preflightResult struct {
	State   preflightState
	Message string // why it was refused
}

// preflightResult reads the preflight Job of the image and options with
// key hash (render.Revision.Key): absent, running, passed, or refused with the server's message.
// A Job whose pod cannot start (its image does not pull, no node takes
// it) refuses the template while that lasts.
func (r *Reconciler) preflightResult(ctx context.Context, c *etcdv1.EtcdCluster, hash string) (preflightResult, error) {
	job := &batchv1.Job{}
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.PreflightJobName(hash)}, job)
	if apierrors.IsNotFound(err) {
		return preflightResult{State: preflightNone}, nil
	}
	if err != nil {
		return preflightResult{}, fmt.Errorf("reading preflight job: %w", err)
	}
	if jobs.Complete(job) {
		return preflightResult{State: preflightPassed}, nil
	}
	if jobs.Failed(job) {
		msg, err := jobs.Report(ctx, r.APIReader, job)
		if err != nil {
			return preflightResult{}, err
		}
		if msg == "" {
			msg = "the check did not finish: " + failedMessage(job)
			if refusal, err := jobs.PodCreateFailure(ctx, r.APIReader, job); err != nil {
				return preflightResult{}, err
			} else if refusal != "" {
				msg += ": " + jobs.PodCreateMessage(refusal)
			}
		}
		return preflightResult{State: preflightRefused, Message: strings.TrimPrefix(msg, contract.PreflightRefusedPrefix)}, nil
	}
	pods, err := jobs.Pods(ctx, r.Client, job)
	if err != nil {
		return preflightResult{}, err
	}
	for i := range pods {
		if cause, ok := podcause.Of(&pods[i]); ok && cause.Stuck {
			msg := cause.Message
			if n := pods[i].Spec.NodeName; n != "" {
				msg += " on node " + n
			}
			return preflightResult{State: preflightRefused, Message: msg}, nil
		}
	}
	if !jobs.Unfinished(pods) {
		refusal, err := refusedPod(ctx, r.APIReader, job)
		if err != nil || refusal != "" {
			return preflightResult{State: preflightRefused, Message: refusal}, err
		}
	}
	return preflightResult{State: preflightRunning}, nil
}

// refusedPod says, from the Job's FailedCreate events (read from the API
// server), that the Job controller cannot create the preflight pod and
// why (PodSecurity admission, a ResourceQuota, a LimitRange); "" when
// nothing refuses it. Like a pod that cannot start, a refused pod refuses
// the template while it lasts: the Job controller keeps retrying until the
// Job's deadline, so fixing the namespace lets the check go on by itself.
func refusedPod(ctx context.Context, api client.Reader, job *batchv1.Job) (string, error) {
	refusal, err := jobs.PodCreateFailure(ctx, api, job)
	if err != nil || refusal == "" {
		return "", err
	}
	log.FromContext(ctx).V(1).Info("preflight pod refused by the API server", "job", job.Name, "refusal", refusal)
	return jobs.PodCreateMessage(refusal) + " (fix the namespace's PodSecurity level, ResourceQuota or LimitRange: " +
		"the Job controller retries until the Job's deadline, and the check goes on once the pod is created)", nil
}

func failedMessage(job *batchv1.Job) string {
	for _, cond := range job.Status.Conditions {
		if cond.Type == batchv1.JobFailed {
			return strings.TrimSpace(cond.Reason + " " + cond.Message)
		}
	}
	return "failed"
}

// startPreflight creates the preflight Job of the spec's image and options
// (key hash, render.Revision.Key), as member would run them on node.
func (r *Reconciler) startPreflight(ctx context.Context, c *etcdv1.EtcdCluster, hash, member, node string) error {
	job := render.PreflightJob(c, r.Render, hash, member, node)
	created, err := jobs.Create(ctx, r.Client, r.Scheme, c, job)
	if err != nil {
		return fmt.Errorf("starting the preflight check: %w", err)
	}
	if created {
		log.FromContext(ctx).V(1).Info("preflight check started", "job", job.Name, "member", member, "node", node)
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "PreflightStarted", "Rollout",
			"checking the new spec (Job %s) on the node of %s before restarting any member", job.Name, member)
	}
	return nil
}

// deleteOldPreflights deletes the preflight Jobs of other templates than
// hash, and that of hash too once nothing is left to roll out (keep false).
func (r *Reconciler) deleteOldPreflights(ctx context.Context, c *etcdv1.EtcdCluster, hash string, keep bool) error {
	list := &batchv1.JobList{}
	if err := r.List(ctx, list, client.InNamespace(c.Namespace), client.MatchingLabels{
		etcdv1.LabelInstance: c.Name, etcdv1.LabelManagedBy: etcdv1.ManagedByValue, etcdv1.LabelComponent: render.ComponentPreflight,
	}); err != nil {
		return fmt.Errorf("listing preflight jobs: %w", err)
	}
	for i := range list.Items {
		j := &list.Items[i]
		if (keep && j.Labels[render.LabelPreflightRevision] == hash) || !j.DeletionTimestamp.IsZero() || !metav1.IsControlledBy(j, c) {
			continue
		}
		if err := r.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting preflight job %s: %w", j.Name, err)
		}
	}
	return nil
}
