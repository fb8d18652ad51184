package podutil

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

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
