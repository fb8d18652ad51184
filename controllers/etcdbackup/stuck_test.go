package etcdbackup

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"quorum.dev/etcd-operator/controllers/internal/podcause"
)

func jobPod(created time.Time, phase corev1.PodPhase, waiting string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b-backup-x", CreationTimestamp: metav1.NewTime(created)}, Status: corev1.PodStatus{Phase: phase}}
	if waiting != "" {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "backup", Image: "img",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting, Message: `secret "s3-creds" not found`}}}}
	}
	return p
}

func TestStuckPod(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		pods      []corev1.Pod
		stuck     bool
		reason    string
		wantWait  time.Duration
		inMessage string
	}{
		{"no pod yet", nil, false, "", requeueRunning, ""},
		{"missing secret past the grace fails", []corev1.Pod{jobPod(now.Add(-31*time.Second), corev1.PodPending, "CreateContainerConfigError")},
			true, podcause.ContainerConfig, 0, `secret "s3-creds" not found`},
		{"missing secret within the grace waits for it", []corev1.Pod{jobPod(now.Add(-10*time.Second), corev1.PodPending, "CreateContainerConfigError")},
			false, podcause.ContainerConfig, 10 * time.Second, ""},
		{"image pull past the grace fails", []corev1.Pod{jobPod(now.Add(-time.Minute), corev1.PodPending, "ImagePullBackOff")},
			true, podcause.ImagePull, 0, "cannot be pulled"},
		{"a starting pod is not stuck however old", []corev1.Pod{jobPod(now.Add(-time.Hour), corev1.PodPending, "ContainerCreating")},
			false, podcause.Starting, requeueRunning, ""},
		{"a finished pod is left to the Job", []corev1.Pod{jobPod(now.Add(-time.Hour), corev1.PodFailed, "")}, false, "", requeueRunning, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cause, stuck, wait := stuckPod(tc.pods, now, podGrace)
			if stuck != tc.stuck || cause.Reason != tc.reason || wait != tc.wantWait {
				t.Errorf("got stuck=%v reason=%q wait=%v, want %v %q %v", stuck, cause.Reason, wait, tc.stuck, tc.reason, tc.wantWait)
			}
			if !strings.Contains(cause.Message, tc.inMessage) {
				t.Errorf("message %q lacks %q", cause.Message, tc.inMessage)
			}
		})
	}
}
