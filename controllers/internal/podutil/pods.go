// Package podutil holds what the reconcilers need to know of an EtcdCluster's
// member pods: list them, whether one is ready, restart a set of them, and
// whether a member reported its data lost.
package podutil

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/contract"
)

// ListMembers lists the cluster's member pods (from the cache).
func ListMembers(ctx context.Context, r client.Reader, c *etcdv1.EtcdCluster) ([]corev1.Pod, error) {
	list := &corev1.PodList{}
	if err := r.List(ctx, list, client.InNamespace(c.Namespace), client.MatchingLabels(c.SelectorLabels())); err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	return list.Items, nil
}

// Ready reports whether the pod's Ready condition is True.
func Ready(pod *corev1.Pod) bool {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// ReadyMembers counts the pods that are Ready and not being deleted. A
// pod being deleted keeps its Ready condition until the kubelet has
// stopped its containers, seconds later; its member is going away and is
// not counted from the moment of the deletion.
func ReadyMembers(pods []corev1.Pod) int32 {
	n := int32(0)
	for i := range pods {
		if Ready(&pods[i]) && pods[i].DeletionTimestamp.IsZero() {
			n++
		}
	}
	return n
}

// MayAnswer reports whether the etcd process of a member pod may answer a
// request: the pod is not being deleted and its etcd container is
// running (ready or not: a member that fails /readyz, for example under
// the CORRUPT alarm, still answers).
func MayAnswer(pod *corev1.Pod) bool {
	if !pod.DeletionTimestamp.IsZero() {
		return false
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == render.ContainerName && cs.State.Running != nil {
			return true
		}
	}
	return false
}

// Restart deletes, all at once, the member pods not being deleted already
// for which restart says so; the StatefulSet makes them again. It returns
// how many it deleted.
func Restart(ctx context.Context, cl client.Client, c *etcdv1.EtcdCluster, restart func(*corev1.Pod) bool) (int, error) {
	pods, err := ListMembers(ctx, cl, c)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range pods {
		pod := &pods[i]
		if !pod.DeletionTimestamp.IsZero() || !restart(pod) {
			continue
		}
		if err := cl.Delete(ctx, pod, client.Preconditions{UID: &pod.UID}); client.IgnoreNotFound(err) != nil {
			return n, fmt.Errorf("restarting %s: %w", pod.Name, err)
		}
		n++
	}
	return n, nil
}

// CorruptMemberID returns the member ID the etcd container's current or
// last termination message reports as holding corrupt data (see
// contract.DataCorruptMarker), and false when it reports none. The
// caller compares it with the member listed for the pod: a member added
// again has a new ID, while its pod may still show the old report.
func CorruptMemberID(pod *corev1.Pod) (uint64, bool) {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != render.ContainerName {
			continue
		}
		for _, t := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
			if t == nil {
				continue
			}
			if id, ok := contract.CorruptMemberID(t.Message); ok {
				return id, true
			}
		}
	}
	return 0, false
}

// DataLost reports whether the etcd container's current or last
// termination message says its member's data is lost.
func DataLost(pod *corev1.Pod) bool {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != render.ContainerName {
			continue
		}
		for _, t := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
			if t != nil && contract.ReportsDataLost(t.Message) {
				return true
			}
		}
	}
	return false
}
