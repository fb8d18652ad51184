package testenv

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FinishJob plays what the Job controller and the kubelet would do for
// job (envtest runs neither): a pod of the Job whose one container
// terminated with message (exit 0 if ok, else 1), then the Job's status
// Complete (ok) or Failed.
func FinishJob(ctx context.Context, c client.Client, job *batchv1.Job, ok bool, message string) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-x", Namespace: job.Namespace, Labels: map[string]string{batchv1.JobNameLabel: job.Name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
	}
	if err := c.Create(ctx, pod); err != nil {
		return fmt.Errorf("creating the pod of job %s: %w", job.Name, err)
	}
	exit, phase := int32(1), corev1.PodFailed
	if ok {
		exit, phase = 0, corev1.PodSucceeded
	}
	pod.Status.Phase = phase
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Message: message}}}}
	if err := c.Status().Update(ctx, pod); err != nil {
		return fmt.Errorf("terminating the pod of job %s: %w", job.Name, err)
	}

	now := metav1.Now()
	job.Status.StartTime = &now
	cond := func(t batchv1.JobConditionType) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now}
	}
	if ok {
		job.Status.Succeeded, job.Status.CompletionTime = 1, &now
		job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}
	} else {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed)}
	}
	if err := c.Status().Update(ctx, job); err != nil {
		return fmt.Errorf("finishing job %s: %w", job.Name, err)
	}
	return nil
}
