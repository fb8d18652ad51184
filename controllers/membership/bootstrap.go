package membership

import "fmt"

// PlanBootstrap returns the one membership change a cluster that has not
// formed yet may need, RemoveMember or None. Pure, like Plan.
//
// A new cluster has no learners: the operator adds one only to a formed
// cluster. A learner that has not started in the member list of a cluster
// still forming is left over from an earlier cluster on the same volumes
// (one deleted while scaling up, after the learner was added and before
// its pod ever started). Nothing backs it (its data, if any, went with
// the earlier cluster's pod), and it keeps the cluster from forming, which
// waits for every listed member to start. It is removed by ID, the lowest
// first, one per pass; a learner does not vote, so the quorum is the same
// without it. A learner that has started is a member with data, and left
// to Plan once the cluster has formed.
func PlanBootstrap(s Snapshot) Action {
	var leftover *Member
	for i := range s.Members {
		m := &s.Members[i]
		if m.IsLearner && m.Name == "" && (leftover == nil || m.ID < leftover.ID) {
			leftover = m
		}
	}
	if leftover == nil {
		return Action{Kind: None, Ordinal: -1, Reason: "no learner left over from an earlier cluster"}
	}
	o := -1
	if s.PeerURL != nil {
		if v, _, bad := view(s); !bad {
			for ord, m := range v.byOrdinal {
				if m.ID == leftover.ID {
					o = ord
				}
			}
		}
	}
	where := ""
	if o >= 0 {
		where = fmt.Sprintf(" at ordinal %d", o)
	}
	return Action{Kind: RemoveMember, Ordinal: o, MemberID: leftover.ID, Reason: fmt.Sprintf(
		"learner %x%s never started and is left over from an earlier cluster on these volumes (a cluster still forming has no learners of its own): "+
			"removing it so that the cluster can form; a learner does not vote, so the quorum is unchanged", leftover.ID, where)}
}
