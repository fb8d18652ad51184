package jobs

import (
	"context"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func pod(name, job string, states ...corev1.ContainerState) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{batchv1.JobNameLabel: job}}}
	for _, s := range states {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: "c", State: s})
	}
	return p
}

func terminated(msg string) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: msg}}
}

func TestReport(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns"}}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	for _, tc := range []struct {
		name string
		pods []client.Object
		want string
	}{
		{"no pod", nil, ""},
		{"a pod without message", []client.Object{pod("j-1", "j", running)}, ""},
		{"the message, trimmed", []client.Object{pod("j-1", "j", terminated(" {\"sha256\":\"ab\"}\n"))}, `{"sha256":"ab"}`},
		{"a terminated container after one without message", []client.Object{pod("j-1", "j", terminated(""), terminated("refused"))}, "refused"},
		{"another Job's pod is not read", []client.Object{pod("k-1", "k", terminated("not mine"))}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(tc.pods...).Build()
			got, err := Report(context.Background(), api, job)
			if err != nil || got != tc.want {
				t.Fatalf("Report = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestReportWithoutAPIReader: a reconciler whose APIReader was not set
// gets an error that says so, not a panic.
func TestReportWithoutAPIReader(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns"}}
	_, err := Report(context.Background(), nil, job)
	if err == nil || !strings.Contains(err.Error(), "no API server reader") {
		t.Fatalf("nil reader: %v; want an error naming the missing API reader", err)
	}
}
