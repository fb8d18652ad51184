package podutil

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/contract"
)

func TestDataLost(t *testing.T) {
	msg := "serve failed: member 4 ... it must be removed and added again: " + contract.DataLostMarker
	pod := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
		Name:                 render.ContainerName,
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: msg}},
	}}}}
	if !DataLost(pod) {
		t.Fatal("data loss not recognised")
	}
	pod.Status.ContainerStatuses[0].LastTerminationState.Terminated.Message = "serve failed: member not in the cluster"
	if DataLost(pod) {
		t.Fatal("other failures are not data loss")
	}
	pod.Status.ContainerStatuses[0].Name = "restore"
	pod.Status.ContainerStatuses[0].LastTerminationState.Terminated.Message = msg
	if DataLost(pod) {
		t.Fatal("only the etcd container speaks for the member")
	}
}

func TestReady(t *testing.T) {
	pod := &corev1.Pod{}
	if Ready(pod) {
		t.Fatal("a pod without conditions is not ready")
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if !Ready(pod) {
		t.Fatal("Ready=True not recognised")
	}
}

func TestCorruptMemberID(t *testing.T) {
	msg := "serve failed: " + contract.DataCorruptMessage(0xabc, "abc found data inconsistency with peers")
	pod := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
		Name:                 render.ContainerName,
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: msg}},
	}}}}
	if id, ok := CorruptMemberID(pod); !ok || id != 0xabc {
		t.Fatalf("CorruptMemberID = %x, %t", id, ok)
	}
	pod.Status.ContainerStatuses[0].LastTerminationState.Terminated.Message = "serve failed: " + contract.DataLostMarker
	if _, ok := CorruptMemberID(pod); ok {
		t.Fatal("lost data is not corrupt data")
	}
	pod.Status.ContainerStatuses[0].Name = "restore"
	pod.Status.ContainerStatuses[0].LastTerminationState.Terminated.Message = msg
	if _, ok := CorruptMemberID(pod); ok {
		t.Fatal("only the etcd container speaks for the member")
	}
}

func TestReadyMembersAndMayAnswer(t *testing.T) {
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	running := []corev1.ContainerStatus{{Name: render.ContainerName, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	waiting := []corev1.ContainerStatus{{Name: render.ContainerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
	otherRunning := []corev1.ContainerStatus{{Name: "restore", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	deleting := &metav1.Time{Time: time.Unix(1, 0)}
	for _, tc := range []struct {
		name          string
		pod           corev1.Pod
		ready, answer bool
	}{
		{"ready and running", corev1.Pod{Status: corev1.PodStatus{Conditions: ready, ContainerStatuses: running}}, true, true},
		{"running, not ready (CORRUPT fails readyz)", corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: running}}, false, true},
		{"ready but being deleted", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: deleting}, Status: corev1.PodStatus{Conditions: ready, ContainerStatuses: running}}, false, false},
		{"container not started", corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: waiting}}, false, false},
		{"only another container runs", corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: otherRunning}}, false, false},
		{"no status yet", corev1.Pod{}, false, false},
	} {
		if got := ReadyMembers([]corev1.Pod{tc.pod}) == 1; got != tc.ready {
			t.Errorf("%s: counted ready %v, want %v", tc.name, got, tc.ready)
		}
		if got := MayAnswer(&tc.pod); got != tc.answer {
			t.Errorf("%s: MayAnswer %v, want %v", tc.name, got, tc.answer)
		}
	}
}
