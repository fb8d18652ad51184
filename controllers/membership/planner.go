// Package membership decides the next membership change of an etcd cluster.
//
// Plan is a pure function: from a snapshot of the cluster (desired size,
// StatefulSet replicas, a freshly listed member list with health, the pods)
// it returns exactly one next action. It has no client, no logger and no
// clock; the reconciler carries the action out, and calls Plan again on the
// next pass with a fresh snapshot. Because Plan is deterministic, an operator
// restarted between any two steps picks up where it stopped.
//
// Members are matched to StatefulSet ordinals by their peer URL
// (Snapshot.PeerURL), never by list position or by sorting names: "c-10"
// sorts before "c-9" as a string, but ordinal 10 is above ordinal 9.
//
// The rules, checked in this order (the first that applies wins):
//
//  1. Desired < 1 or no PeerURL function → Refuse (bad input).
//  2. No members listed → Wait ("cluster unreachable"); nothing is changed
//     without a member list.
//  3. A member whose peer URLs match no ordinal is foreign → Refuse; two
//     members on one ordinal → Refuse. The planner never touches a member
//     it does not understand.
//     3b. A member whose pod reports lost data (Pod.DataLost) → RemoveMember
//     if quorum survives without it, else Refuse; rule 8 then adds the
//     ordinal back as an empty learner.
//     3c. A member whose data is corrupt (its pod reports it under its ID,
//     Pod.CorruptID, or its HashKV differs from the majority's,
//     Member.Corrupt; see JudgeHashes) is replaced the same way, one at a
//     time: only while no learner is in progress and no voter is missing
//     (voters >= Desired); otherwise the rules below finish that first.
//     The last voter is never removed (Refuse: restore from a backup);
//     a voter only if quorum survives without it (else Refuse); a leader
//     first hands leadership to the lowest-ordinal healthy voter whose
//     data is sound (MoveLeader).
//  4. The StatefulSet has pods above both the highest member and Desired
//     (STSReplicas > keep, keep = max(highest member ordinal + 1, Desired))
//     → ShrinkStatefulSet(keep), in one step. The planner adds a member
//     before it grows the StatefulSet, so such pods are always left over
//     from a removal (scale-down interrupted after RemoveMember); they hold
//     no member and are not wanted. It never goes below Desired: a pod
//     without member below Desired is a hole (see below), even at the top,
//     because with storage.whenScaled: Delete the shrink would delete its
//     claim, and with it the data its server sets aside (a member removed
//     for corrupt data, 3c, keeps it as data.corrupt-<time>). It never goes
//     below an ordinal that still holds a member.
//  5. Some member has ordinal >= Desired (scale down, also a zombie whose pod
//     is gone) → handle the member with the HIGHEST ordinal:
//     a learner is removed directly (learners do not vote);
//     the last voter is never removed (Refuse);
//     a voter is removed only if quorum survives: healthy voters left after
//     the removal >= quorum(voters-1), with quorum(n) = n/2+1; otherwise
//     Refuse. If it leads, leadership moves first (MoveLeader) to the
//     lowest-ordinal healthy voter below Desired (or, failing that, any
//     other healthy voter), then RemoveMember on the next pass.
//     Once it is gone, rule 4 shrinks the StatefulSet to its ordinal.
//  6. A member (learner or voter) has no pod slot (ordinal >= STSReplicas) →
//     GrowStatefulSet(highest member ordinal + 1): the learner was added but
//     the StatefulSet was not grown yet (or someone shrank it).
//  7. A learner exists (lowest ordinal first) → PromoteLearner when it has
//     started, is healthy, is caught up and quorum holds with it as a voter;
//     otherwise Wait. A learner that never starts is still just Wait: the
//     reconciler, which has a clock, decides when that is too long.
//  8. Fewer voters than Desired → if any voter is unhealthy, Wait (a sick
//     cluster is not grown; a voter whose data is corrupt, waiting for its
//     replacement, does not count as sick: a learner does not vote); else
//     AddLearner at the lowest ordinal below
//     Desired that has no member. Rule 6 grows the StatefulSet next.
//  9. Otherwise the membership is as desired → None.
//
// A pod at an ordinal without member below Desired (a "hole", e.g. a
// member removed by hand, for lost or corrupt data (3b, 3c), or by a
// scale-down that was then reversed, or after a recovery from a survivor;
// at the top ordinal too) gets its member added back as a learner (rule 8).
// If that pod still holds the removed member's data, quorum-etcd finds its
// member ID missing from the cluster, sets the data aside
// (<data dir>.corrupt-<time> when corrupt, else <data dir>.stale) and joins
// as that learner. It gets there without the pod being deleted: etcd stops
// a member that applies its own removal, quorum-etcd then exits and the
// container restarts into that check (the reconciler also deletes the pod
// of a member removed for corrupt data, to skip a crash-loop back-off).
package membership

import (
	"fmt"
	"strings"
	"time"
)

// Member is one entry of the member list, with what its status said.
type Member struct {
	ID        uint64
	Name      string // "" until the member has started
	PeerURLs  []string
	IsLearner bool
	Healthy   bool // answered a status request this pass
	IsLeader  bool
	CaughtUp  bool // learner only: its raft index is close enough to the leader's to promote
	// Corrupt: its HashKV differs from the hash a majority of voters
	// agree on (JudgeHashes), while the CORRUPT alarm is raised.
	Corrupt bool
}

// Pod is what is known about the pod of one ordinal.
type Pod struct {
	Exists bool
	// Created is the pod's creation time; the planner ignores it (the
	// reconciler paces its passes by it).
	Created time.Time
	Ready   bool // for the record: the planner trusts Member.Healthy, not readiness
	// DataLost: the pod's member has run before but its data dir is empty
	// (a lost or replaced volume); the bundled server refuses to start.
	DataLost bool
	// CorruptID: the member ID the pod's termination message reports as
	// corrupt (it refused to start for corrupt data), 0 if none. It
	// applies only while that member is listed at this ordinal: its
	// replacement has another ID.
	CorruptID uint64
}

// Snapshot is everything Plan looks at. Members must be listed right before
// planning.
type Snapshot struct {
	Desired     int32       // spec.replicas (>= 1)
	STSReplicas int32       // StatefulSet spec.replicas now
	Members     []Member    // fresh member list
	Pods        map[int]Pod // by ordinal; a missing entry is a pod that does not exist
	// PeerURL is the advertised peer URL of ordinal i.
	PeerURL func(ordinal int) string
}

// Kind is the kind of an Action.
type Kind string

// The kinds of action. None, Wait and Refuse change nothing.
const (
	// None: the membership is as desired.
	None Kind = "None"
	// Wait: a step in progress should finish on its own; plan again later.
	Wait Kind = "Wait"
	// Refuse: the next change would be unsafe, or the cluster holds
	// something the planner does not understand; a human may have to act.
	Refuse Kind = "Refuse"
	// AddLearner: add Ordinal as a learner with PeerURL.
	AddLearner Kind = "AddLearner"
	// PromoteLearner: promote learner MemberID to voter.
	PromoteLearner Kind = "PromoteLearner"
	// GrowStatefulSet: raise StatefulSet replicas to Replicas.
	GrowStatefulSet Kind = "GrowStatefulSet"
	// MoveLeader: hand leadership from MemberID to TargetID.
	MoveLeader Kind = "MoveLeader"
	// RemoveMember: remove member MemberID.
	RemoveMember Kind = "RemoveMember"
	// ShrinkStatefulSet: lower StatefulSet replicas to Replicas.
	ShrinkStatefulSet Kind = "ShrinkStatefulSet"
)

// Action is the one next step. Fields that do not apply are zero, except
// Ordinal, which is -1 when no ordinal is concerned.
type Action struct {
	Kind     Kind
	Ordinal  int    // AddLearner; otherwise the ordinal concerned, for information
	PeerURL  string // AddLearner
	MemberID uint64 // PromoteLearner, RemoveMember, MoveLeader (from)
	TargetID uint64 // MoveLeader (to)
	Replicas int32  // GrowStatefulSet, ShrinkStatefulSet
	Reason   string // always set; human-readable
}

// Changes reports whether carrying out the action changes the cluster.
func (a Action) Changes() bool {
	return a.Kind != None && a.Kind != Wait && a.Kind != Refuse
}

// ordinalSlack widens the range of ordinals searched for a member's peer
// URL beyond the current sizes: a member left over from an earlier, larger
// StatefulSet still belongs to the cluster.
const ordinalSlack = 16

// Quorum is the number of voters a cluster of n voters needs to agree.
func Quorum(n int) int { return n/2 + 1 }

// Plan returns the one next action for the snapshot. See the package
// documentation for the rules.
func Plan(s Snapshot) Action {
	if s.Desired < 1 {
		return refuse(-1, "desired replicas %d is below 1", s.Desired)
	}
	if s.PeerURL == nil {
		return refuse(-1, "no peer URL function: cannot match members to ordinals")
	}
	if len(s.Members) == 0 {
		return wait(-1, "cluster unreachable: no member list")
	}
	v, a, bad := view(s)
	if bad {
		return a
	}

	hi := v.highest()
	desired, sts := int(s.Desired), int(s.STSReplicas)

	// 3b. A member whose pod lost its data is removed, so that it can be
	// added back empty (rule 8 re-adds the ordinal as a learner).
	for _, o := range v.ordinals {
		if s.Pods[o].DataLost {
			return v.replace(o)
		}
	}

	// 3c. A member whose data is corrupt is replaced, one at a time.
	if a, ok := v.replaceCorrupt(s); ok {
		return a
	}

	// 4. Pods above both the highest member and Desired hold nothing:
	// shrink them away. Below Desired a pod without member is a hole
	// (rule 8), never shrunk: its volume may hold set-aside data.
	if keep := max(hi+1, desired); sts > keep {
		empty := fmt.Sprintf("ordinal %d has no member", keep)
		if sts > keep+1 {
			empty = fmt.Sprintf("ordinals %d to %d have no members", keep, sts-1)
		}
		return Action{Kind: ShrinkStatefulSet, Ordinal: keep, Replicas: int32(keep),
			Reason: fmt.Sprintf("%s: shrinking the StatefulSet from %d to %d", empty, sts, keep)}
	}
	// 5. Scale down, highest ordinal first.
	if hi >= desired {
		return v.removeHighest(s, hi)
	}
	// 6. A member without a pod slot: grow to give it one.
	if hi >= sts {
		return Action{Kind: GrowStatefulSet, Ordinal: hi, Replicas: int32(hi + 1),
			Reason: fmt.Sprintf("member %s has no pod (StatefulSet replicas %d): growing the StatefulSet to %d", v.describe(hi), sts, hi+1)}
	}
	// 7. Finish the learner in progress.
	for _, o := range v.ordinals {
		if v.byOrdinal[o].IsLearner {
			return v.promote(s, o)
		}
	}
	// 8. Scale up, one learner at a time.
	if v.voters < desired {
		for _, o := range v.ordinals {
			if !v.byOrdinal[o].Healthy && v.corruptBy(s, o) == "" {
				return wait(o, "member %s is unhealthy: not adding a member to a sick cluster (%d of %d voters)", v.describe(o), v.voters, desired)
			}
		}
		o := 0
		for ; o < desired; o++ {
			if _, ok := v.byOrdinal[o]; !ok {
				break
			}
		}
		url := s.PeerURL(o)
		why := fmt.Sprintf("%d of %d voters: adding ordinal %d as a learner", v.voters, desired, o)
		if s.Pods[o].Exists {
			why += " (its pod exists without a member; its server sets the removed member's data aside, if any, and joins as the learner)"
		}
		return Action{Kind: AddLearner, Ordinal: o, PeerURL: url, Reason: why}
	}
	// 9. Done.
	why := fmt.Sprintf("%d voters, as desired", v.voters)
	if n := v.voters - v.healthyVoters; n > 0 {
		why += fmt.Sprintf(" (%d unhealthy)", n)
	}
	return Action{Kind: None, Ordinal: -1, Reason: why}
}

// removeHighest handles the member at ordinal hi >= Desired.
func (v *cluster) removeHighest(s Snapshot, hi int) Action {
	m := v.byOrdinal[hi]
	name := v.describe(hi)
	if m.IsLearner {
		return Action{Kind: RemoveMember, Ordinal: hi, MemberID: m.ID,
			Reason: fmt.Sprintf("scaling down to %d: removing learner %s", s.Desired, name)}
	}
	if v.voters <= 1 {
		return refuse(hi, "member %s is the last voter: never removed", name)
	}
	if why := v.quorumWithout(hi); why != "" {
		return refuse(hi, "removing member %s %s", name, why)
	}
	if m.IsLeader {
		// Ascending order: the first healthy voter is the lowest ordinal,
		// and it is below Desired whenever any such voter exists.
		to := -1
		for _, o := range v.ordinals {
			if c := v.byOrdinal[o]; o != hi && !c.IsLearner && c.Healthy {
				to = o
				break
			}
		}
		if to < 0 { // not reachable while the quorum check above holds; kept as a guard
			return refuse(hi, "member %s leads and no other healthy voter can take over", name)
		}
		return Action{Kind: MoveLeader, Ordinal: hi, MemberID: m.ID, TargetID: v.byOrdinal[to].ID,
			Reason: fmt.Sprintf("scaling down to %d: moving leadership from member %s to member %s before removing it", s.Desired, name, v.describe(to))}
	}
	why := fmt.Sprintf("scaling down to %d: removing member %s", s.Desired, name)
	if hi >= int(s.STSReplicas) {
		why += " (its pod is already gone)"
	}
	return Action{Kind: RemoveMember, Ordinal: hi, MemberID: m.ID, Reason: why}
}

// replace removes the member at ordinal o, whose data is lost, if the
// cluster keeps its quorum without it.
func (v *cluster) replace(o int) Action {
	m := v.byOrdinal[o]
	name := v.describe(o)
	if !m.IsLearner {
		if v.voters <= 1 {
			return refuse(o, "member %s lost its data and is the last voter: restore the cluster from a backup", name)
		}
		if why := v.quorumWithout(o); why != "" {
			return refuse(o, "member %s lost its data, but removing it %s", name, why)
		}
	}
	return Action{Kind: RemoveMember, Ordinal: o, MemberID: m.ID,
		Reason: fmt.Sprintf("member %s lost its data: removing it to add it back empty", name)}
}

// quorumWithout says why removing the voter at ordinal o would lose quorum
// (healthy voters left below quorum of the voters left), or "" if it would
// not.
func (v *cluster) quorumWithout(o int) string {
	left := v.healthyVoters
	if v.byOrdinal[o].Healthy {
		left--
	}
	if need := Quorum(v.voters - 1); left < need {
		return fmt.Sprintf("would leave %d healthy of %d voters, below quorum %d", left, v.voters-1, need)
	}
	return ""
}

// promote decides about the learner at ordinal o, which has a pod slot.
func (v *cluster) promote(s Snapshot, o int) Action {
	m := v.byOrdinal[o]
	name := v.describe(o)
	switch {
	case !s.Pods[o].Exists:
		return wait(o, "learner %s: waiting for its pod to be created", name)
	case m.Name == "":
		return wait(o, "learner %s: waiting for it to start", name)
	case !m.Healthy:
		return wait(o, "learner %s is not answering", name)
	case !m.CaughtUp:
		return wait(o, "learner %s is catching up with the leader", name)
	}
	if need := Quorum(v.voters + 1); v.healthyVoters+1 < need {
		return wait(o, "promoting learner %s would give %d healthy of %d voters, below quorum %d",
			name, v.healthyVoters+1, v.voters+1, need)
	}
	return Action{Kind: PromoteLearner, Ordinal: o, MemberID: m.ID,
		Reason: fmt.Sprintf("learner %s has caught up: promoting it to voter (%d of %d)", name, v.voters+1, s.Desired)}
}

func wait(o int, format string, args ...any) Action {
	return Action{Kind: Wait, Ordinal: o, Reason: fmt.Sprintf(format, args...)}
}

func refuse(o int, format string, args ...any) Action {
	return Action{Kind: Refuse, Ordinal: o, Reason: fmt.Sprintf(format, args...)}
}

// cluster is the member list indexed by ordinal.
type cluster struct {
	byOrdinal     map[int]Member
	ordinals      []int // ascending
	voters        int
	healthyVoters int
}

func (v *cluster) highest() int { return v.ordinals[len(v.ordinals)-1] }

// describe names the member at ordinal o for reasons, after "member" or
// "learner".
func (v *cluster) describe(o int) string {
	m := v.byOrdinal[o]
	if m.Name != "" {
		return fmt.Sprintf("%s (ordinal %d, ID %x)", m.Name, o, m.ID)
	}
	return fmt.Sprintf("at ordinal %d (ID %x, not started)", o, m.ID)
}

// view matches members to ordinals by peer URL. It returns a Refuse action
// and true when a member is foreign or two members claim one ordinal.
func view(s Snapshot) (*cluster, Action, bool) {
	limit := max(int(s.Desired), int(s.STSReplicas)) + len(s.Members) + ordinalSlack
	ordinalOf := make(map[string]int, limit)
	for i := range limit {
		ordinalOf[s.PeerURL(i)] = i
	}
	v := &cluster{byOrdinal: make(map[int]Member, len(s.Members))}
	for _, m := range s.Members {
		o := -1
		for _, u := range m.PeerURLs {
			i, ok := ordinalOf[u]
			if !ok {
				continue
			}
			if o >= 0 && o != i {
				return nil, refuse(-1, "member %x has peer URLs of two ordinals (%d and %d): not touching it", m.ID, o, i), true
			}
			o = i
		}
		if o < 0 {
			return nil, refuse(-1, "foreign member %x (name %q, peer URLs %s) matches no ordinal: not touching it",
				m.ID, m.Name, strings.Join(m.PeerURLs, ",")), true
		}
		if prev, dup := v.byOrdinal[o]; dup {
			return nil, refuse(o, "members %x and %x both have the peer URL of ordinal %d", min(prev.ID, m.ID), max(prev.ID, m.ID), o), true
		}
		v.byOrdinal[o] = m
		if !m.IsLearner {
			v.voters++
			if m.Healthy {
				v.healthyVoters++
			}
		}
	}
	for o := range limit {
		if _, ok := v.byOrdinal[o]; ok {
			v.ordinals = append(v.ordinals, o)
		}
	}
	return v, Action{}, false
}
