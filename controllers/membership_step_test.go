package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/etcdserver/server"
)

func TestDataLostMarkerMatchesTheServer(t *testing.T) {
	if dataLostMarker != server.DataLostMarker {
		t.Fatalf("operator looks for %q, server writes %q", dataLostMarker, server.DataLostMarker)
	}
	msg := "serve failed: member 4 ... it must be removed and added again: " + server.ErrDataLost.Error()
	pod := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
		Name:                 render.ContainerName,
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: msg}},
	}}}}
	if !reportsDataLost(pod) {
		t.Fatal("data loss not recognised")
	}
	pod.Status.ContainerStatuses[0].LastTerminationState.Terminated.Message = "serve failed: member not in the cluster"
	if reportsDataLost(pod) {
		t.Fatal("other failures are not data loss")
	}
}
