package etcdcluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/podcause"
	"quorum.dev/etcd-operator/controllers/internal/podutil"
	"quorum.dev/etcd-operator/controllers/membership"
)

// +kubebuilder:rbac:groups="",resources=pods,verbs=delete

// rolloutHalt is why a rollout cannot go on without a spec change: the
// status step turns it into Progressing=False with its reason.
type rolloutHalt struct {
	Reason  string // etcdv1.ReasonRolloutStuck or etcdv1.ReasonRolloutBlocked
	Message string
}

// rollout restarts members whose pods run an old template, one per pass
// (see planRollout). It runs only once membership is settled. When etcd
// did not answer this pass, it only replaces broken outdated pods (they
// serve nothing, so a reverted spec heals a cluster that a bad change left
// without quorum, a single member included) and otherwise waits.
//
// While the spec's image or options are held back (see revision.go), it
// starts their preflight check, on the node of the member that would be
// restarted first, reports a refusal, and restarts no healthy member; a
// broken one is still replaced.
func (r *Reconciler) rollout(ctx context.Context, p *pass) error {
	c := p.cluster
	if p.sts == nil || p.inPlace != nil || p.stsReplacing || (p.membership != nil && p.membership.Kind != membership.None) {
		return nil
	}
	reachable := p.client != nil
	items, err := podutil.ListMembers(ctx, r.Client, c)
	if err != nil {
		return err
	}
	rev := p.revision
	key := rev.Desired.Key()
	update := p.sts.Status.UpdateRevision
	pods, byName := r.rolloutPods(p, items, update)
	// Checks of other revisions than the spec's are done with (a revert
	// drops a refused one).
	if err := r.deleteOldPreflights(ctx, c, key, true); err != nil {
		return err
	}
	// Rolled back (rollout_rollback.go): the spec's template waits for a
	// spec change; no check is started or collected meanwhile.
	rolledBack := c.StuckRollout() != nil
	if rev.Held && !rolledBack {
		if err := r.checkHeld(ctx, p, pods, byName); err != nil {
			return err
		}
	}
	if p.sts.Status.ObservedGeneration < p.sts.Generation {
		// The update revision is not computed yet for the template just
		// applied: decide on the next pass.
		return nil
	}
	if len(pods) < int(p.stsReplicas) && reachable {
		reason := fmt.Sprintf("waiting for %d pods to exist, %d do", p.stsReplicas, len(pods))
		log.FromContext(ctx).V(1).Info("rollout decision: wait", "reason", reason)
		if !rev.Held {
			p.outdated, p.rolloutReason = countOutdated(pods), reason
			if p.outdated == 0 && p.sts.Status.UpdatedReplicas < p.stsReplicas {
				p.outdated = int(p.stsReplicas) - len(pods)
			}
		}
		return nil
	}
	in := rolloutInput{Pods: pods, Leader: p.obs.leader, Voters: p.obs.voters, AllHealthy: reachable && len(p.obs.members) > 0}
	for _, m := range p.obs.list {
		st, ok := p.obs.statuses[m.ID]
		in.AllHealthy = in.AllHealthy && ok && len(st.Errors) == 0
	}
	// The template in force passed its check when it was written; checked
	// here again only when nothing proves it (a template written by an
	// earlier operator version before its check). A rolled-back template
	// is the one the healthy members ran.
	var pre preflightResult
	if countOutdated(pods) > 0 && !rev.Held {
		pre = preflightResult{State: preflightPassed}
		if !rev.Proven && !rolledBack {
			if pre, err = r.preflightResult(ctx, c, key); err != nil {
				return err
			}
		}
		in.Preflight = pre.State
	}
	if !rev.Held && !rolledBack && countOutdated(pods) == 0 {
		if err := r.deleteOldPreflights(ctx, c, key, false); err != nil {
			return err
		}
	}

	step := planRollout(in)
	if !reachable && !step.Replace {
		// Without etcd's view, nothing healthy is ever stopped.
		return nil
	}
	if rev.Held {
		// Only a broken member is replaced while the spec's revision is
		// held; a stuck one is reported unless the refusal is.
		if step.Stuck != "" && p.rolloutHalt == nil {
			p.rolloutHalt = stuckHalt(c, step.Stuck, byName[step.Stuck])
		}
		if !step.Replace {
			return nil
		}
		step = rolloutStep{Pod: step.Pod, Replace: true, Outdated: step.Outdated, Reason: step.Reason}
	}
	if !rev.Held {
		p.outdated, p.rolloutReason = step.Outdated, step.Reason
	}
	if step.Outdated > 0 {
		log.FromContext(ctx).V(1).Info("rollout decision", "updateRevision", update, "outdated", step.Outdated,
			"leader", fmt.Sprintf("%x", p.obs.leader), "allHealthy", in.AllHealthy, "preflight", pre.State, "held", rev.Held,
			"restart", step.Pod, "replace", step.Replace, "moveLeaderTo", fmt.Sprintf("%x", step.MoveTo),
			"preflightOn", step.Preflight, "blocked", step.Blocked, "stuck", step.Stuck, "reason", step.Reason)
	}
	switch {
	case step.Stuck != "":
		r.recordStuck(ctx, p, step.Stuck, byName[step.Stuck], pods)
	case step.Blocked:
		p.rolloutHalt = &rolloutHalt{Reason: etcdv1.ReasonRolloutBlocked, Message: fmt.Sprintf(
			"the new spec failed its preflight check (Job %s), no member was restarted: %s; "+
				"members keep running the previous spec: revert or fix the change (or delete the Job to check again)",
			c.PreflightJobName(key), pre.Message)}
	case step.Preflight != "":
		if pre.State == preflightNone {
			return r.startPreflight(ctx, c, key, step.Preflight, byName[step.Preflight].Spec.NodeName)
		}
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
		pod := byName[step.Pod]
		if err := r.Delete(ctx, pod, client.Preconditions{UID: &pod.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("restarting %s: %w", step.Pod, err)
		}
		reason, kind := "MemberRestarted", corev1.EventTypeNormal
		if rolledBack {
			// The template is the last healthy one: say so, not "new spec".
			step.Reason = fmt.Sprintf("restarting %s with the last healthy spec: the stuck rollout was rolled back", step.Pod)
		}
		if step.Replace {
			cause, _ := podcause.Of(pod)
			reason, kind = "BrokenMemberReplaced", corev1.EventTypeWarning
			step.Reason += ": " + cause.Message
		}
		r.Recorder.Eventf(c, nil, kind, reason, "Rollout", "%s", step.Reason)
	}
	return nil
}

// checkHeld handles the spec's revision while it is held back: it starts
// its preflight check when none exists, says that the check runs, or
// halts the rollout when the check refused it.
func (r *Reconciler) checkHeld(ctx context.Context, p *pass, pods []podInfo, byName map[string]*corev1.Pod) error {
	c, rev := p.cluster, p.revision
	job := c.PreflightJobName(rev.Desired.Key())
	switch rev.Preflight.State {
	case preflightRefused:
		p.rolloutHalt = &rolloutHalt{Reason: etcdv1.ReasonRolloutBlocked, Message: fmt.Sprintf(
			"the new spec failed its preflight check (Job %s), no member was restarted: %s; "+
				"members keep running the previous spec, and a member pod that restarts meanwhile comes back with the previous spec too: "+
				"revert or fix the change (or delete the Job to check again)",
			job, rev.Preflight.Message)}
		return nil
	case preflightRunning:
		p.checking = fmt.Sprintf("checking the new spec (Job %s) before any member can run it", job)
		return nil
	}
	member := firstToRestart(pods, p.obs.leader)
	if member == "" {
		member = c.MemberName(0)
	}
	node := ""
	if pod := byName[member]; pod != nil {
		node = pod.Spec.NodeName
	}
	p.checking = fmt.Sprintf("checking the new spec (Job %s) before any member can run it", job)
	return r.startPreflight(ctx, c, rev.Desired.Key(), member, node)
}

// stuckHalt is the halt of a rollout whose restarted member pod did not
// come back in time.
func stuckHalt(c *etcdv1.EtcdCluster, name string, pod *corev1.Pod) *rolloutHalt {
	return &rolloutHalt{Reason: etcdv1.ReasonRolloutStuck, Message: fmt.Sprintf(
		"rollout halted: %s, restarted with the new spec, did not become and stay ready within %ds: %s; no other member will be restarted. "+
			"Revert the change or fix it: %s is then replaced at once, and the rollout goes on",
		name, c.ProgressDeadline(), stuckCause(pod), name)}
}

// rolloutPods reads what the planner needs of each member pod.
func (r *Reconciler) rolloutPods(p *pass, items []corev1.Pod, update string) ([]podInfo, map[string]*corev1.Pod) {
	c := p.cluster
	ids, voter := map[string]uint64{}, map[uint64]bool{}
	for _, m := range p.obs.list {
		ids[m.Name] = m.ID
		voter[m.ID] = !m.IsLearner
	}
	deadline := time.Duration(c.ProgressDeadline()) * time.Second
	minReady := time.Duration(c.MinReadySeconds()) * time.Second
	now := r.now()
	var pods []podInfo
	byName := map[string]*corev1.Pod{}
	for i := range items {
		pod := &items[i]
		o, ok := c.MemberOrdinal(pod.Name)
		if !ok {
			continue
		}
		byName[pod.Name] = pod
		id := ids[pod.Name]
		st, answered := p.obs.statuses[id]
		terminating := pod.DeletionTimestamp != nil
		ready := podutil.Ready(pod) && !terminating
		outdated := update != "" && pod.Labels[appsv1.ControllerRevisionHashLabelKey] != update
		cause, notReady := podcause.Of(pod)
		settling := !outdated && ready && now.Sub(notReadySince(pod)) < minReady
		pods = append(pods, podInfo{
			Name: pod.Name, Ordinal: o, MemberID: id, Outdated: outdated, Ready: ready, Terminating: terminating,
			Revision: pod.Labels[appsv1.ControllerRevisionHashLabelKey],
			Broken:   notReady && cause.Stuck,
			Settling: settling,
			Overdue: !terminating && ((!ready && now.Sub(notReadySince(pod)) > deadline) ||
				(minReady > 0 && !outdated && (settling || !ready) && restarted(pod) && now.Sub(pod.CreationTimestamp.Time) > deadline)),
			Healthy: id != 0 && answered && len(st.Errors) == 0,
			Voter:   voter[id],
		})
	}
	return pods, byName
}

// notReadySince is when the pod last stopped being ready: the transition
// time of its Ready condition, or its creation when it never reported one.
func notReadySince(pod *corev1.Pod) time.Time {
	since := pod.CreationTimestamp.Time
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.LastTransitionTime.After(since) {
			since = c.LastTransitionTime.Time
		}
	}
	return since
}

// restarted reports whether a container of the pod has exited since the
// pod was created.
func restarted(pod *corev1.Pod) bool {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.RestartCount > 0 {
			return true
		}
	}
	return false
}

// stuckCause says why a restarted member is stuck: what Kubernetes reports
// of the pod (podcause), or, when the pod is running again, how its
// container last exited (an OOM kill, an exit code and its message).
func stuckCause(pod *corev1.Pod) string {
	if cause, ok := podcause.Of(pod); ok && cause.Reason != podcause.Starting {
		return cause.Message
	}
	for _, cs := range pod.Status.ContainerStatuses {
		t := cs.LastTerminationState.Terminated
		if t == nil {
			continue
		}
		msg := fmt.Sprintf("container %s last exited at %s with code %d (%s, %d restarts)", cs.Name, t.FinishedAt.UTC().Format(time.RFC3339), t.ExitCode, t.Reason, cs.RestartCount)
		if t.Reason == "OOMKilled" {
			msg = fmt.Sprintf("container %s was killed for exceeding its memory limit (OOMKilled at %s, %d restarts)", cs.Name, t.FinishedAt.UTC().Format(time.RFC3339), cs.RestartCount)
		} else if m := strings.TrimSpace(t.Message); m != "" {
			msg += ": " + m
		}
		return msg
	}
	if cause, ok := podcause.Of(pod); ok {
		return cause.Message
	}
	return "ready for less than spec.rollout.minReadySeconds"
}
