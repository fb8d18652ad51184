// Package maintenance decides the next storage-maintenance step of an etcd
// cluster: recovery from a NOSPACE alarm, and defragmentation by threshold
// or schedule.
//
// Plan is a pure function, built like membership.Plan: from a snapshot of
// the cluster (each member's status, the alarms, the revision, the clock)
// it returns exactly one next action. It has no client, no logger and no
// clock of its own. The reconciler carries the action out and plans again
// on a later pass with a fresh snapshot; what has been done is read back
// from the members (a defragmented member has nothing left to free), except
// the compaction, which the reconciler records (Snapshot.Compacted).
//
// Space figures: DBSize is the backend file, DBSizeInUse its live pages,
// Freeable = DBSize - DBSizeInUse is what a defragmentation returns. etcd's
// quota applies to DBSize (server/storage/quota.go), not to the size in use.
//
// The rules, checked in this order (the first that applies wins):
//
//  1. No members → Wait.
//  2. A CORRUPT alarm → Refuse: the members' data differ; compacting,
//     defragmenting or disarming would hide that (op-guide/data_corruption).
//     A human finds the bad member and replaces it.
//  3. A voter did not answer, or no member is known to lead → Wait. A
//     defragmentation blocks its member; with another voter already down
//     that can cost the quorum. A learner that did not answer is only
//     skipped.
//  4. NOSPACE is raised: etcd's recovery (op-guide/maintenance, "Space
//     quota"): compact, defragment every member, disarm.
//     a. The current revision is not compacted yet (Compacted < Revision)
//     → Compact(Revision). Under NOSPACE only deletes move the revision,
//     and after deletes another compaction is what frees their space.
//     a'. Members in Snapshot.Pending (the reconciler puts every member
//     there when it compacts) → defragment them, in the order below: a
//     member's size in use is stale until it is defragmented (etcd
//     recomputes it only when the backend commits a write).
//     b. A member's size in use is at least FullShare (90 %) of its quota:
//     its live data fills the quota, defragmenting cannot help → QuotaFull.
//     The cluster stays NOSPACE (read and delete only) until data is
//     deleted (rule a compacts it) or the quota is raised. No loop.
//     c. A member has at least RecoveryFreeableShare (2 %) of its quota
//     freeable → defragment it, in the order below.
//     d. A member's file is still above DisarmShare (80 %) of its quota →
//     QuotaFull: disarming would let it reach the quota again at once.
//     e. Otherwise → Disarm (NOSPACE, every member): every member's file
//     is at most 80 % of its quota, leaving room for writes.
//  5. No NOSPACE: defragment a member that passes the threshold: at least
//     MinFreeableBytes freeable, a file of at least MinDBSize, and a
//     freeable share (Freeable/DBSize) of at least FreeableShare or at
//     least FreeableBytes freeable (when set; NoThreshold turns both off);
//     while the schedule window is open (Snapshot.Scheduled), every member
//     with at least MinFreeableBytes freeable; every member of
//     Snapshot.Pending (a scheduled or requested round: each member once,
//     whatever it has to free). Nothing to do → None.
//
// Order of the defragmentations, one member per action: learners first,
// then follower voters, the leader last; within a group the largest file
// first, then the lowest ID. The leader is defragmented only once no one
// else needs it, after leadership moved (MoveLeader to the lowest-ID healthy
// follower voter); a lone voter is defragmented in place. Between two
// defragmentations Plan waits Policy.Pause after Snapshot.LastDefrag
// (OpenShift's and etcd's advice: leave time between members).
package maintenance

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// DefaultQuota is etcd's backend quota when --quota-backend-bytes is unset
// (server/storage/quota.go DefaultQuotaBytes).
const DefaultQuota int64 = 2 << 30

// Member is what one member's status said this pass.
type Member struct {
	ID        uint64
	Name      string
	Healthy   bool // answered its status this pass (an alarm does not make it unhealthy)
	IsLeader  bool
	IsLearner bool
	// DBSize, DBSizeInUse and Quota in bytes; Quota 0 means DefaultQuota.
	DBSize, DBSizeInUse, Quota int64
}

// Freeable is what a defragmentation of the member would return, in bytes.
func (m Member) Freeable() int64 { return max(m.DBSize-m.DBSizeInUse, 0) }

// FreeableShare is Freeable as a share of the file, 0 for an empty file.
func (m Member) FreeableShare() float64 {
	if m.DBSize <= 0 {
		return 0
	}
	return float64(m.Freeable()) / float64(m.DBSize)
}

func (m Member) quota() int64 {
	if m.Quota <= 0 {
		return DefaultQuota
	}
	return m.Quota
}

// share of the member's quota taken by n bytes.
func (m Member) share(n int64) float64 { return float64(n) / float64(m.quota()) }

// Policy holds the thresholds. Zero fields take the defaults of
// DefaultPolicy (see Policy.withDefaults).
type Policy struct {
	// FreeableShare: a member whose Freeable/DBSize reaches it passes the
	// threshold (default 0.5: in use below half the file, Talos' rule).
	FreeableShare float64
	// FreeableBytes: when > 0, a member with this much freeable passes
	// the threshold whatever its share.
	FreeableBytes int64
	// MinFreeableBytes: below this much freeable a member is never worth
	// blocking outside NOSPACE (default 16 MiB).
	MinFreeableBytes int64
	// DisarmShare: NOSPACE is disarmed only when every member's file is at
	// most this share of its quota (default 0.8).
	DisarmShare float64
	// FullShare: under NOSPACE, a member whose size in use after compaction
	// is at least this share of its quota is full of live data (default 0.9).
	FullShare float64
	// RecoveryFreeableShare: under NOSPACE, a member is defragmented when
	// its freeable bytes reach this share of its quota (default 0.02).
	RecoveryFreeableShare float64
	// Pause between two defragmentations (default 30s).
	Pause time.Duration
	// MinDBSize: the thresholds apply only to members whose file is at
	// least this large (0: any size).
	MinDBSize int64
	// NoThreshold turns the FreeableShare and FreeableBytes thresholds off
	// (the user set neither); rounds and NOSPACE recovery still run.
	NoThreshold bool
}

// DefaultPolicy is the policy used for zero Policy fields.
var DefaultPolicy = Policy{
	FreeableShare:         0.5,
	MinFreeableBytes:      16 << 20,
	DisarmShare:           0.8,
	FullShare:             0.9,
	RecoveryFreeableShare: 0.02,
	Pause:                 30 * time.Second,
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy
	if p.FreeableShare <= 0 {
		p.FreeableShare = d.FreeableShare
	}
	if p.MinFreeableBytes <= 0 {
		p.MinFreeableBytes = d.MinFreeableBytes
	}
	if p.DisarmShare <= 0 {
		p.DisarmShare = d.DisarmShare
	}
	if p.FullShare <= 0 {
		p.FullShare = d.FullShare
	}
	if p.RecoveryFreeableShare <= 0 {
		p.RecoveryFreeableShare = d.RecoveryFreeableShare
	}
	if p.Pause <= 0 {
		p.Pause = d.Pause
	}
	return p
}

// PassesThreshold reports whether m is worth defragmenting outside NOSPACE
// (rule 5 without the schedule).
func (p Policy) PassesThreshold(m Member) bool {
	p = p.withDefaults()
	f := m.Freeable()
	if p.NoThreshold || f < p.MinFreeableBytes || m.DBSize < p.MinDBSize {
		return false
	}
	return m.FreeableShare() >= p.FreeableShare || (p.FreeableBytes > 0 && f >= p.FreeableBytes)
}

// SafeToDisarm reports whether m's file leaves room under its quota
// (rule 4e): DBSize <= DisarmShare of the quota.
func (p Policy) SafeToDisarm(m Member) bool {
	return m.share(m.DBSize) <= p.withDefaults().DisarmShare
}

// LiveDataFull reports whether m's live data fills its quota (rule 4b):
// DBSizeInUse >= FullShare of the quota.
func (p Policy) LiveDataFull(m Member) bool {
	return m.share(m.DBSizeInUse) >= p.withDefaults().FullShare
}

// Snapshot is everything Plan looks at.
type Snapshot struct {
	Members []Member
	// NoSpace and Corrupt: a NOSPACE or CORRUPT alarm is raised on any
	// member (the alarm list is cluster-wide).
	NoSpace, Corrupt bool
	// Revision is the current revision; Compacted the revision the
	// reconciler last compacted to during this NOSPACE episode (0: none).
	Revision, Compacted int64
	// Scheduled: the defragmentation schedule's window is open.
	Scheduled bool
	// Pending: members of a round (schedule or request) still to
	// defragment, by ID; each is defragmented whatever it has to free.
	Pending map[uint64]bool
	// Now and LastDefrag (zero: none yet) pace the defragmentations.
	Now, LastDefrag time.Time
	Policy          Policy
}

// Kind is the kind of an Action.
type Kind string

// The kinds of action. None, Wait, Refuse and QuotaFull change nothing.
const (
	None   Kind = "None"
	Wait   Kind = "Wait"
	Refuse Kind = "Refuse"
	// QuotaFull: NOSPACE stays; live data (or too little headroom) fills
	// the quota. Delete data or raise the quota.
	QuotaFull Kind = "QuotaFull"
	// Compact to Revision, physically.
	Compact Kind = "Compact"
	// Defragment member MemberID.
	Defragment Kind = "Defragment"
	// MoveLeader from MemberID to TargetID (before defragmenting MemberID).
	MoveLeader Kind = "MoveLeader"
	// Disarm the NOSPACE alarm of every member.
	Disarm Kind = "Disarm"
)

// Action is the one next step; fields that do not apply are zero.
type Action struct {
	Kind     Kind
	MemberID uint64 // Defragment, MoveLeader (from); the member concerned for Wait, QuotaFull
	TargetID uint64 // MoveLeader (to)
	Revision int64  // Compact
	Reason   string // always set; human-readable
}

// Changes reports whether carrying out the action changes the cluster.
func (a Action) Changes() bool {
	return a.Kind == Compact || a.Kind == Defragment || a.Kind == MoveLeader || a.Kind == Disarm
}

// Plan returns the one next action for the snapshot; see the package
// documentation for the rules.
func Plan(s Snapshot) Action {
	p := s.Policy.withDefaults()
	if len(s.Members) == 0 {
		return act(Wait, 0, "no member status")
	}
	if s.Corrupt {
		return act(Refuse, 0, "CORRUPT alarm raised: members' data differ; find and replace the bad member (etcd op-guide/data_corruption)")
	}
	var leader *Member
	for i := range s.Members {
		m := &s.Members[i]
		if !m.Healthy && !m.IsLearner {
			return act(Wait, m.ID, "voter %s did not answer: no defragmentation while a voter is down", m)
		}
		if m.Healthy && m.IsLeader {
			leader = m
		}
	}
	if leader == nil {
		return act(Wait, 0, "no leader known")
	}
	if s.NoSpace {
		return planNoSpace(s, p)
	}
	need := func(m Member) bool {
		return p.PassesThreshold(m) || (s.Scheduled && m.Freeable() >= p.MinFreeableBytes) || s.Pending[m.ID]
	}
	return defragNext(s, p, need, "")
}

func planNoSpace(s Snapshot, p Policy) Action {
	if s.Revision <= 0 {
		return act(Wait, 0, "NOSPACE: current revision unknown")
	}
	if s.Compacted < s.Revision {
		return Action{Kind: Compact, Revision: s.Revision,
			Reason: fmt.Sprintf("NOSPACE: compacting to revision %d (last compacted %d)", s.Revision, s.Compacted)}
	}
	// Members of the recovery round (Pending, set by the reconciler when it
	// compacts) are defragmented before their size in use is trusted:
	// etcd recomputes DBSizeInUse only when the backend commits a write,
	// and under NOSPACE none comes after the compaction, so a member can
	// report its pre-compaction size in use until it is defragmented.
	if a := defragNext(s, p, func(m Member) bool { return s.Pending[m.ID] }, "NOSPACE recovery: "); a.Kind != None {
		return a
	}
	for _, m := range healthy(s.Members) {
		if p.LiveDataFull(m) {
			return act(QuotaFull, m.ID, "NOSPACE: after compaction %s still uses %.0f%% of its quota %d (full at %.0f%%): delete data or raise the quota",
				m, 100*m.share(m.DBSizeInUse), m.quota(), 100*p.FullShare)
		}
	}
	need := func(m Member) bool { return m.share(m.Freeable()) >= p.RecoveryFreeableShare }
	if a := defragNext(s, p, need, "NOSPACE recovery: "); a.Kind != None {
		return a
	}
	for _, m := range healthy(s.Members) {
		if !p.SafeToDisarm(m) {
			return act(QuotaFull, m.ID, "NOSPACE: after defragmentation %s still uses %.0f%% of its quota %d (disarm at most %.0f%%): delete data or raise the quota",
				m, 100*m.share(m.DBSize), m.quota(), 100*p.DisarmShare)
		}
	}
	return act(Disarm, 0, "NOSPACE: compacted and defragmented, every member at most %.0f%% of its quota: disarming", 100*p.DisarmShare)
}

// defragNext picks the next member to defragment among those for which need
// holds, or None.
func defragNext(s Snapshot, p Policy, need func(Member) bool, prefix string) Action {
	var todo []Member
	for _, m := range healthy(s.Members) {
		if need(m) {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		return act(None, 0, "%snothing to defragment", prefix)
	}
	if !s.LastDefrag.IsZero() && s.Now.Sub(s.LastDefrag) < p.Pause {
		return act(Wait, 0, "%spausing %s between defragmentations (last %s ago)", prefix, p.Pause, s.Now.Sub(s.LastDefrag))
	}
	slices.SortFunc(todo, func(a, b Member) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(b.DBSize, a.DBSize), cmp.Compare(a.ID, b.ID))
	})
	m := todo[0]
	if m.IsLeader {
		var target *Member
		for _, o := range healthy(s.Members) {
			if !o.IsLearner && o.ID != m.ID && (target == nil || o.ID < target.ID) {
				target = &o
			}
		}
		if target != nil {
			return Action{Kind: MoveLeader, MemberID: m.ID, TargetID: target.ID,
				Reason: fmt.Sprintf("%sleader %s is the last to defragment: moving leadership to %s first", prefix, m, target)}
		}
	}
	return act(Defragment, m.ID, "%sdefragmenting %s: %d of %d bytes freeable (%.0f%%)", prefix, m, m.Freeable(), m.DBSize, 100*m.FreeableShare())
}

// rank orders learners, follower voters, the leader.
func rank(m Member) int {
	switch {
	case m.IsLearner:
		return 0
	case !m.IsLeader:
		return 1
	default:
		return 2
	}
}

func healthy(ms []Member) []Member {
	var out []Member
	for _, m := range ms {
		if m.Healthy {
			out = append(out, m)
		}
	}
	return out
}

func (m Member) String() string {
	if m.Name != "" {
		return fmt.Sprintf("%s (%x)", m.Name, m.ID)
	}
	return fmt.Sprintf("%x", m.ID)
}

func act(k Kind, id uint64, format string, args ...any) Action {
	return Action{Kind: k, MemberID: id, Reason: fmt.Sprintf(format, args...)}
}
