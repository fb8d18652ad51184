package etcdcluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/failpoint"
	"quorum.dev/etcd-operator/controllers/internal/podutil"
	"quorum.dev/etcd-operator/controllers/membership"
	"quorum.dev/etcd-operator/controllers/render"
)

// caughtUpPercent: a learner whose raft index is within this share of the
// leader's is promoted (etcd itself refuses below 90%).
const caughtUpPercent = 95

// reconcileMembership makes at most one membership change per pass, the one
// membership.Plan chooses from the member list fetched a moment ago by
// observe. Every change is safe to repeat: the planner sees its effect on
// the next pass and moves on, or asks for the same change again if it did
// not happen.
func (r *Reconciler) reconcileMembership(ctx context.Context, p *pass) error {
	c := p.cluster
	if p.client == nil || p.inPlace != nil || p.stsReplacing {
		return nil
	}
	if p.boot.State != render.StateExisting {
		return r.removeLeftoverLearner(ctx, p)
	}
	if phase := c.TLSMigrating(); phase != "" {
		// Peer URLs move between schemes and ports meanwhile, and a new
		// member could not be told which to use: scaling waits (the TLS
		// migration's Progressing message says so).
		log.FromContext(ctx).V(1).Info("membership decision: wait for the TLS migration", "phase", phase)
		return nil
	}
	if err := r.updateJoinList(ctx, p); err != nil {
		return err
	}
	pods, err := r.memberPods(ctx, c)
	if err != nil {
		return err
	}
	snap := r.snapshot(p, pods)
	action := membership.Plan(snap)
	p.membership = &action
	log := log.FromContext(ctx)
	log.V(1).Info("membership decision", "desired", snap.Desired, "statefulSetReplicas", snap.STSReplicas,
		"members", describeMembers(snap.Members), "pods", len(pods), "action", action.Kind, "ordinal", action.Ordinal, "reason", action.Reason)
	if action.Kind == membership.None {
		r.replacing.Delete(clusterKey(c))
		p.replacingCorrupt = ""
	}
	if !action.Changes() {
		p.membershipSoon = learnerStarting(snap, action, r.now())
		return nil
	}
	log.Info("membership change", "action", action.Kind, "reason", action.Reason)
	err = r.changeMembership(ctx, p, action)
	p.membershipSoon = p.membershipSoon || lookAgainSoon(p.membership.Kind, err)
	if err == nil && action.Kind == membership.RemoveMember {
		switch {
		case removedCorrupt(snap, action):
			p.replacingCorrupt = fmt.Sprintf("%s (ID %x)", c.MemberName(action.Ordinal), action.MemberID)
			r.replacing.Store(clusterKey(c), p.replacingCorrupt)
			err = r.restartRemovedPod(ctx, c, action.Ordinal, "to set its corrupt data aside")
		case snap.Pods[action.Ordinal].DataLost:
			// Its server crash-loops on the empty data dir: restarted
			// now, it joins as the learner the next pass adds without
			// waiting out the back-off.
			err = r.restartRemovedPod(ctx, c, action.Ordinal, "to join again with an empty data dir")
		}
	}
	switch {
	case etcdclient.RefusedForNow(err):
		// Not an error: etcd asks to wait (a leader that just changed, a
		// learner still catching up). Look again soon.
		waitMembership(p, action, fmt.Sprintf("etcd refused for now, trying again: %v", err))
		return nil
	case etcdclient.Unanswered(err) || errors.Is(err, errLeaderSilent):
		// Not an error yet: a loaded or re-electing cluster answers late.
		// The change may or may not have happened; the next pass reads the
		// member list again and plans from it.
		log.V(1).Info("membership change got no answer in time; checking the member list again on the next pass", "action", action.Kind, "error", err.Error())
		waitMembership(p, action, fmt.Sprintf("etcd did not answer the change in time (%v); reading the member list again on the next pass", err))
		return nil
	case etcdclient.FromStoppingMember(err) && p.stsReplicas > c.DesiredReplicas():
		// Expected while scaling down: the request reached a member that
		// was just removed and is stopping. The next pass lists the
		// members again and sees whether the change happened.
		log.V(1).Info("membership change answered by a stopping member; checking on the next pass", "error", err.Error())
		waitMembership(p, action, "a removed member is stopping; checking the member list again")
		return nil
	}
	return err
}

// removeLeftoverLearner removes, from a cluster that has not formed, a
// learner left over from an earlier cluster on the same volumes, chosen by
// membership.PlanBootstrap; the member list is read again first, and the
// learner removed by ID only if it is still there, unstarted.
func (r *Reconciler) removeLeftoverLearner(ctx context.Context, p *pass) error {
	pods, err := r.memberPods(ctx, p.cluster)
	if err != nil {
		return err
	}
	action := membership.PlanBootstrap(r.snapshot(p, pods))
	log := log.FromContext(ctx)
	if !action.Changes() {
		return nil
	}
	_, members, err := p.client.MemberList(ctx)
	if err != nil {
		return fmt.Errorf("listing members again before removing learner %x: %w", action.MemberID, err)
	}
	still := false
	for _, m := range members {
		still = still || (m.ID == action.MemberID && m.IsLearner && !m.Started())
	}
	if !still {
		log.V(1).Info("leftover learner already gone or started; nothing to remove", "member", fmt.Sprintf("%x", action.MemberID))
		return nil
	}
	log.V(1).Info("membership decision", "action", action.Kind, "member", fmt.Sprintf("%x", action.MemberID), "ordinal", action.Ordinal, "reason", action.Reason)
	p.membership = &action
	if err := p.client.Remove(ctx, action.MemberID); err != nil {
		return fmt.Errorf("removing leftover learner %x: %w", action.MemberID, err)
	}
	r.Recorder.Eventf(p.cluster, nil, corev1.EventTypeNormal, "LeftoverLearnerRemoved", "RemoveMember", "%s", action.Reason)
	return nil
}

// waitMembership records that the pass's change was not made and why;
// the status shows it as a wait, and the next pass plans again.
func waitMembership(p *pass, action membership.Action, reason string) {
	p.membership = &membership.Action{Kind: membership.Wait, Ordinal: action.Ordinal, Reason: reason}
}

// errLeaderSilent: the leader a change must be sent to did not answer
// its status request this pass.
var errLeaderSilent = errors.New("the leader did not answer this pass")

// changeMembership carries out one change the planner chose.
func (r *Reconciler) changeMembership(ctx context.Context, p *pass, action membership.Action) error {
	c, cl := p.cluster, p.client
	switch action.Kind {
	case membership.AddLearner:
		id, err := cl.AddLearner(ctx, action.PeerURL)
		if err != nil {
			return err
		}
		failpoint.Hit(failpoint.AfterAddLearner)
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "MemberAdded", "AddLearner", "added learner %x for %s: %s", id, c.MemberName(action.Ordinal), action.Reason)
	case membership.PromoteLearner:
		leader, ok := p.obs.statuses[p.obs.leader]
		if !ok {
			return fmt.Errorf("%w: leader %x, cannot promote", errLeaderSilent, p.obs.leader)
		}
		if err := cl.Promote(ctx, leader.Endpoint, action.MemberID); err != nil {
			if errors.Is(err, etcdclient.ErrLearnerNotReady) {
				waitMembership(p, action, "learner not in sync with the leader yet")
				p.membershipSoon = true
				return nil
			}
			return err
		}
		failpoint.Hit(failpoint.AfterPromote)
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "MemberPromoted", "PromoteLearner", "%s", action.Reason)
	case membership.GrowStatefulSet, membership.ShrinkStatefulSet:
		if action.Kind == membership.GrowStatefulSet {
			if reason, err := r.slotsStillFreeing(ctx, c, p.stsReplicas, action.Replicas); err != nil || reason != "" {
				if err == nil {
					waitMembership(p, action, reason)
				}
				return err
			}
		}
		p.stsReplicas = action.Replicas
		if err := r.apply(ctx, c, r.renderStatefulSet(p, action.Replicas)); err != nil {
			return err
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "StatefulSetResized", string(action.Kind), "%s", action.Reason)
	case membership.MoveLeader:
		st, ok := p.obs.statuses[action.MemberID]
		if !ok {
			return fmt.Errorf("%w: leader %x, cannot move leadership", errLeaderSilent, action.MemberID)
		}
		if err := cl.MoveLeader(ctx, st.Endpoint, action.TargetID); err != nil {
			return err
		}
		failpoint.Hit(failpoint.AfterMoveLeader)
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "LeaderMoved", "MoveLeader", "%s", action.Reason)
	case membership.RemoveMember:
		if err := cl.Remove(ctx, action.MemberID); err != nil {
			return err
		}
		failpoint.Hit(failpoint.AfterRemoveMember)
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "MemberRemoved", "RemoveMember", "%s", action.Reason)
	}
	return nil
}

// removedCorrupt: the member the action removed was replaced for corrupt
// data (its pod reported it, or its HashKV was in the minority).
func removedCorrupt(s membership.Snapshot, a membership.Action) bool {
	if s.Pods[a.Ordinal].CorruptID == a.MemberID {
		return true
	}
	for _, m := range s.Members {
		if m.ID == a.MemberID && m.Corrupt {
			return true
		}
	}
	return false
}

// snapshot is the planner's view of the pass.
func (r *Reconciler) snapshot(p *pass, pods map[int]membership.Pod) membership.Snapshot {
	c := p.cluster
	var leaderIndex uint64
	for _, st := range p.obs.statuses {
		if st.LeaderID == st.MemberID {
			leaderIndex = st.RaftIndex
		}
	}
	s := membership.Snapshot{
		Desired:     c.DesiredReplicas(),
		STSReplicas: p.stsReplicas,
		Pods:        pods,
		PeerURL:     func(i int) string { return c.MemberPeerURL(i, r.Render.Domain()) },
	}
	for _, m := range p.obs.list {
		st, answered := p.obs.statuses[m.ID]
		s.Members = append(s.Members, membership.Member{
			ID:        m.ID,
			Name:      m.Name,
			PeerURLs:  m.PeerURLs,
			IsLearner: m.IsLearner,
			Healthy:   answered && len(st.Errors) == 0,
			IsLeader:  answered && st.LeaderID == m.ID,
			CaughtUp:  answered && leaderIndex > 0 && st.RaftIndex*100 >= leaderIndex*caughtUpPercent,
			Corrupt:   p.corrupt != nil && slices.Contains(p.corrupt.Corrupt, m.ID),
		})
	}
	return s
}

// memberPods maps the cluster's pods by ordinal.
func (r *Reconciler) memberPods(ctx context.Context, c *etcdv1.EtcdCluster) (map[int]membership.Pod, error) {
	items, err := podutil.ListMembers(ctx, r.Client, c)
	if err != nil {
		return nil, err
	}
	pods := map[int]membership.Pod{}
	for i := range items {
		pod := &items[i]
		o, ok := c.MemberOrdinal(pod.Name)
		if !ok {
			continue
		}
		corruptID, _ := podutil.CorruptMemberID(pod)
		pods[o] = membership.Pod{Exists: pod.DeletionTimestamp == nil, Created: pod.CreationTimestamp.Time, Ready: podutil.Ready(pod), DataLost: podutil.DataLost(pod), CorruptID: corruptID}
	}
	return pods, nil
}

// describeMembers lists members for the decision log: name, ID and what
// the planner knows of each.
func describeMembers(ms []membership.Member) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		role := "voter"
		switch {
		case m.IsLeader:
			role = "leader"
		case m.IsLearner:
			role = "learner"
		}
		out = append(out, fmt.Sprintf("%s/%x:%s,healthy=%t,caughtUp=%t", m.Name, m.ID, role, m.Healthy, m.CaughtUp))
	}
	return out
}

// updateJoinList keeps the ConfigMap's member list current once the cluster
// has formed: a joining member asks the members listed there for the member
// list, so it must name members that exist now, not the first ones.
func (r *Reconciler) updateJoinList(ctx context.Context, p *pass) error {
	var parts []string
	for _, m := range p.obs.list {
		if m.Started() && !m.IsLearner && len(m.PeerURLs) > 0 {
			parts = append(parts, m.Name+"="+m.PeerURLs[0])
		}
	}
	list := strings.Join(parts, ",")
	if list == "" {
		return nil
	}
	return r.setBootstrap(ctx, p, "the join list follows the started voters", func(b *render.Bootstrap) { b.InitialCluster = list })
}

// slotsStillFreeing says why the StatefulSet should not grow from `from` to
// `to` members yet: a pod or volume claim of a new slot is still being
// deleted (a scale-down moments ago, with claims deleted on scale-down).
// Grown then, the StatefulSet controller would meet the terminating claim
// and back off for minutes before creating the pod.
func (r *Reconciler) slotsStillFreeing(ctx context.Context, c *etcdv1.EtcdCluster, from, to int32) (string, error) {
	for o := int(from); o < int(to); o++ {
		pod := &corev1.Pod{}
		switch err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.MemberName(o)}, pod); {
		case err == nil && !pod.DeletionTimestamp.IsZero():
			return fmt.Sprintf("pod %s is still terminating", pod.Name), nil
		case err != nil && !apierrors.IsNotFound(err):
			return "", fmt.Errorf("reading pod %s: %w", c.MemberName(o), err)
		}
		pvc := &corev1.PersistentVolumeClaim{}
		switch err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.MemberClaimName(o)}, pvc); {
		case err == nil && !pvc.DeletionTimestamp.IsZero():
			return fmt.Sprintf("volume claim %s is still being deleted", pvc.Name), nil
		case err != nil && !apierrors.IsNotFound(err):
			return "", fmt.Errorf("reading volume claim %s: %w", c.MemberClaimName(o), err)
		}
	}
	return "", nil
}
