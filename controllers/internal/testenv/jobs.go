package testenv

import (
	"context"
	"fmt"
	"time"

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

// RefuseJobPod plays the Job controller failing to create job's pod
// (envtest runs no Job controller): the Warning FailedCreate event it
// records on the Job through core/v1, at lastTimestamp at, whose message is
// "Error creating: " followed by the API server's refusal.
func RefuseJobPod(ctx context.Context, c client.Client, job *batchv1.Job, refusal string, at time.Time) error {
	ts := metav1.NewTime(at)
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: job.Name + ".", Namespace: job.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: job.Namespace, Name: job.Name,
			UID: job.UID, ResourceVersion: job.ResourceVersion},
		Reason:              "FailedCreate",
		Message:             "Error creating: " + refusal,
		Type:                corev1.EventTypeWarning,
		Source:              corev1.EventSource{Component: "job-controller"},
		FirstTimestamp:      ts,
		LastTimestamp:       ts,
		Count:               1,
		ReportingController: "job-controller",
		ReportingInstance:   "envtest",
	}
	if err := c.Create(ctx, ev); err != nil {
		return fmt.Errorf("recording FailedCreate on job %s: %w", job.Name, err)
	}
	return nil
}

// QuotaRefusal is the API server's refusal of a Job's pod in a namespace
// whose ResourceQuota q allows no pod, as the Job controller quotes it.
func QuotaRefusal(job *batchv1.Job) string {
	return fmt.Sprintf(`pods "%s-x7k2p" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0`, job.Name)
}

// PodSecurityRefusal is the API server's refusal of a Job's pod in a
// namespace that enforces the restricted PodSecurity level.
func PodSecurityRefusal(job *batchv1.Job) string {
	return fmt.Sprintf(`pods "%s-4tq9z" is forbidden: violates PodSecurity "restricted:latest": `+
		`allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)`, job.Name)
}
