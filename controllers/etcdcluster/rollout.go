package etcdcluster

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"quorum.dev/etcd-operator/controllers/internal/podutil"
	"quorum.dev/etcd-operator/controllers/membership"
)

// +kubebuilder:rbac:groups="",resources=pods,verbs=delete

// rolloutStep is the next move of a rolling restart.
type rolloutStep struct {
	// Pod to delete (its StatefulSet recreates it from the new template);
	// empty when nothing is to be deleted this pass.
	Pod string
	// MoveTo: hand leadership to this member ID first (the pod to restart
	// next leads).
	MoveTo uint64
	// Outdated pods left, including Pod.
	Outdated int
	Reason   string
}

// podInfo is what planRollout needs to know of a member pod.
type podInfo struct {
	Name     string
	Ordinal  int
	Outdated bool // its controller-revision-hash is not the StatefulSet's update revision
	Ready    bool
	MemberID uint64 // 0 if unknown
}

// planRollout chooses the next pod to restart: nothing while any member
// is unhealthy or any pod is not ready (health-gated, one at a time);
// followers first, highest ordinal first; the leader last, after its
// leadership has moved to an updated healthy voter. Pure.
func planRollout(pods []podInfo, leader uint64, healthy map[uint64]bool, allHealthy bool) rolloutStep {
	var outdated []podInfo
	for _, p := range pods {
		if !p.Ready {
			return rolloutStep{Outdated: countOutdated(pods), Reason: fmt.Sprintf("waiting for pod %s to be ready", p.Name)}
		}
		if p.Outdated {
			outdated = append(outdated, p)
		}
	}
	if len(outdated) == 0 {
		return rolloutStep{}
	}
	if !allHealthy {
		return rolloutStep{Outdated: len(outdated), Reason: "waiting for every member to be healthy before restarting the next one"}
	}
	sort.Slice(outdated, func(i, j int) bool {
		// Followers before the leader, then highest ordinal first.
		li, lj := outdated[i].MemberID == leader, outdated[j].MemberID == leader
		if li != lj {
			return lj
		}
		return outdated[i].Ordinal > outdated[j].Ordinal
	})
	next := outdated[0]
	if next.MemberID != leader || leader == 0 || len(pods) == 1 {
		return rolloutStep{Pod: next.Name, Outdated: len(outdated), Reason: fmt.Sprintf("restarting %s with the new spec (%d left)", next.Name, len(outdated))}
	}
	// The leader is the last one: move leadership to an updated voter.
	for _, p := range pods {
		if !p.Outdated && p.MemberID != 0 && healthy[p.MemberID] {
			return rolloutStep{MoveTo: p.MemberID, Outdated: len(outdated), Reason: fmt.Sprintf("moving leadership away from %s before restarting it", next.Name)}
		}
	}
	return rolloutStep{Pod: next.Name, Outdated: len(outdated), Reason: fmt.Sprintf("restarting leader %s: no updated voter to take over", next.Name)}
}

func countOutdated(pods []podInfo) int {
	n := 0
	for _, p := range pods {
		if p.Outdated {
			n++
		}
	}
	return n
}

// rollout restarts members whose pods run an old template, one per pass.
// It runs only once membership is settled and etcd answered this pass.
func (r *Reconciler) rollout(ctx context.Context, p *pass) error {
	c := p.cluster
	if p.sts == nil || p.client == nil || p.inPlace != nil || p.stsReplacing || (p.membership != nil && p.membership.Kind != membership.None) {
		return nil
	}
	items, err := podutil.ListMembers(ctx, r.Client, c)
	if err != nil {
		return err
	}
	ids := map[string]uint64{}
	for _, m := range p.obs.list {
		ids[m.Name] = m.ID
	}
	healthy := map[uint64]bool{}
	allHealthy := len(p.obs.members) > 0
	for _, m := range p.obs.list {
		st, ok := p.obs.statuses[m.ID]
		healthy[m.ID] = ok && len(st.Errors) == 0
		allHealthy = allHealthy && healthy[m.ID]
	}
	var pods []podInfo
	for _, pod := range items {
		o, ok := c.MemberOrdinal(pod.Name)
		if !ok {
			continue
		}
		pods = append(pods, podInfo{
			Name: pod.Name, Ordinal: o, MemberID: ids[pod.Name],
			Outdated: p.sts.Status.UpdateRevision != "" && pod.Labels[appsv1.ControllerRevisionHashLabelKey] != p.sts.Status.UpdateRevision,
			// A terminating pod is on its way out: wait for its successor.
			Ready: podutil.Ready(&pod) && pod.DeletionTimestamp == nil,
		})
	}
	if len(pods) < int(p.stsReplicas) {
		p.outdated, p.rolloutReason = countOutdated(pods), fmt.Sprintf("waiting for %d pods to exist, %d do", p.stsReplicas, len(pods))
		log.FromContext(ctx).V(1).Info("rollout decision: wait", "reason", p.rolloutReason)
		if p.outdated == 0 && p.sts.Status.UpdatedReplicas < p.stsReplicas {
			p.outdated = int(p.stsReplicas) - len(pods)
		}
		return nil
	}
	step := planRollout(pods, p.obs.leader, healthy, allHealthy)
	p.outdated, p.rolloutReason = step.Outdated, step.Reason
	if step.Outdated > 0 {
		log.FromContext(ctx).V(1).Info("rollout decision", "updateRevision", p.sts.Status.UpdateRevision, "outdated", step.Outdated,
			"leader", fmt.Sprintf("%x", p.obs.leader), "allHealthy", allHealthy, "restart", step.Pod, "moveLeaderTo", fmt.Sprintf("%x", step.MoveTo), "reason", step.Reason)
	}
	switch {
	case step.MoveTo != 0:
		leader, ok := p.obs.statuses[p.obs.leader]
		if !ok {
			return nil
		}
		if err := p.client.MoveLeader(ctx, leader.Endpoint, step.MoveTo); err != nil {
			return err
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "LeaderMoved", "Rollout", "%s", step.Reason)
	case step.Pod != "":
		pod := &corev1.Pod{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: step.Pod}, pod); err != nil {
			return client.IgnoreNotFound(err)
		}
		if err := r.Delete(ctx, pod, client.Preconditions{UID: &pod.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("restarting %s: %w", step.Pod, err)
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "MemberRestarted", "Rollout", "%s", step.Reason)
	}
	return nil
}
