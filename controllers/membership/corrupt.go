package membership

import (
	"fmt"
	"slices"
	"strings"
)

// corruptBy says how the member at ordinal o is known to hold corrupt
// data, or "" if it is not.
func (v *cluster) corruptBy(s Snapshot, o int) string {
	m := v.byOrdinal[o]
	switch {
	case s.Pods[o].CorruptID != 0 && s.Pods[o].CorruptID == m.ID:
		return "it refuses to start: its data disagree with its peers' or its database file cannot be opened"
	case m.Corrupt:
		return "its HashKV differs from the one a majority of voters agree on"
	}
	return ""
}

// replaceCorrupt is rule 3c: the first action towards replacing the
// lowest-ordinal member whose data is corrupt, and false when no such
// member is to be handled now.
func (v *cluster) replaceCorrupt(s Snapshot) (Action, bool) {
	inFlight := v.voters < int(s.Desired)
	for _, o := range v.ordinals {
		inFlight = inFlight || v.byOrdinal[o].IsLearner
	}
	for _, o := range v.ordinals {
		why := v.corruptBy(s, o)
		if why == "" {
			continue
		}
		m, name := v.byOrdinal[o], v.describe(o)
		if m.IsLearner {
			return Action{Kind: RemoveMember, Ordinal: o, MemberID: m.ID,
				Reason: fmt.Sprintf("learner %s holds corrupt data (%s): removing it to add it back empty", name, why)}, true
		}
		if v.voters <= 1 {
			return refuse(o, "member %s holds corrupt data (%s) and is the last voter: there is no other member to copy the data from; "+
				"restore the cluster from a backup (an EtcdRestore)", name, why), true
		}
		if inFlight {
			// Finish the replacement (or scaling) in progress first.
			return Action{}, false
		}
		if q := v.quorumWithout(o); q != "" {
			return refuse(o, "member %s holds corrupt data (%s), but removing it %s: the cluster cannot replace it; "+
				"bring the other members back, or restore the cluster from a backup (an EtcdRestore)", name, why, q), true
		}
		if m.IsLeader {
			for _, t := range v.ordinals {
				if c := v.byOrdinal[t]; t != o && !c.IsLearner && c.Healthy && v.corruptBy(s, t) == "" {
					return Action{Kind: MoveLeader, Ordinal: o, MemberID: m.ID, TargetID: c.ID,
						Reason: fmt.Sprintf("member %s holds corrupt data (%s): moving leadership to member %s before removing it", name, why, v.describe(t))}, true
				}
			}
			return refuse(o, "member %s holds corrupt data (%s) and leads, and no healthy voter with sound data can take over", name, why), true
		}
		return Action{Kind: RemoveMember, Ordinal: o, MemberID: m.ID,
			Reason: fmt.Sprintf("member %s holds corrupt data (%s): removing it by ID; its pod sets the data aside and it is added back as a learner", name, why)}, true
	}
	return Action{}, false
}

// Hash is one member's answer to HashKV at a common revision.
type Hash struct {
	MemberID        uint64
	Hash            uint32
	Revision        int64
	CompactRevision int64
}

// Verdict is what the members' hashes say (JudgeHashes).
type Verdict struct {
	// Compared: a majority of voters answered at one revision and one
	// compacted revision, so the hashes could be compared.
	Compared bool
	// Agree: every voter answered and every answer has the same hash.
	Agree bool
	// Corrupt are the members whose hash differs from the one a majority
	// of voters share, ascending. Empty when there is no such majority.
	Corrupt []uint64
	// Reason says what was found, for status messages and logs.
	Reason string
}

// JudgeHashes compares the HashKV answers of the members (hashes, any
// order) of a cluster whose voters are listed. A hash shared by a quorum
// of the voters is the right one; every member answering another hash
// holds corrupt data. Answers at another revision or compacted revision
// than the first are not comparable: then nothing is judged. Without a
// majority no member is singled out (etcd's compaction hash check then
// raises CORRUPT for member 0, server/etcdserver/corrupt.go). Pure.
func JudgeHashes(voters []uint64, hashes []Hash) Verdict {
	if len(voters) == 0 || len(hashes) == 0 {
		return Verdict{Reason: "no member answered HashKV"}
	}
	first := hashes[0]
	for _, h := range hashes[1:] {
		if h.Revision != first.Revision || h.CompactRevision != first.CompactRevision {
			return Verdict{Reason: fmt.Sprintf("members hashed different revisions (%x: %d compacted at %d, %x: %d compacted at %d); comparing again later",
				first.MemberID, first.Revision, first.CompactRevision, h.MemberID, h.Revision, h.CompactRevision)}
		}
	}
	votes := map[uint32]int{}
	answered := 0
	for _, h := range hashes {
		if slices.Contains(voters, h.MemberID) {
			votes[h.Hash]++
			answered++
		}
	}
	need := Quorum(len(voters))
	if answered < need {
		return Verdict{Reason: fmt.Sprintf("only %d of %d voters answered HashKV, %d needed to compare", answered, len(voters), need)}
	}
	v := Verdict{Compared: true}
	majority, found := uint32(0), false
	for h, n := range votes {
		if n >= need {
			majority, found = h, true
		}
	}
	if !found {
		v.Reason = fmt.Sprintf("no hash is shared by %d of the %d voters at revision %d: the operator cannot tell which data are sound", need, len(voters), first.Revision)
		return v
	}
	var bad []string
	for _, h := range hashes {
		if h.Hash != majority {
			v.Corrupt = append(v.Corrupt, h.MemberID)
		}
	}
	slices.Sort(v.Corrupt)
	for _, id := range v.Corrupt {
		bad = append(bad, fmt.Sprintf("%x", id))
	}
	v.Agree = len(v.Corrupt) == 0 && answered == len(voters)
	switch {
	case len(bad) > 0:
		v.Reason = fmt.Sprintf("at revision %d the HashKV of %s differs from the one %d of %d voters agree on", first.Revision, strings.Join(bad, ", "), votes[majority], len(voters))
	case v.Agree:
		v.Reason = fmt.Sprintf("every member has the same HashKV at revision %d", first.Revision)
	default:
		v.Reason = fmt.Sprintf("the %d voters that answered agree at revision %d; waiting for the others", answered, first.Revision)
	}
	return v
}
