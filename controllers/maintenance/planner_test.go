package maintenance

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	mib   = int64(1) << 20
	quota = 1000 * mib // round numbers: 1 % of the quota is 10 MiB
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func id(i int) uint64 { return 0xa0 + uint64(i) }

type opt func(*Member)

var (
	leads   opt = func(m *Member) { m.IsLeader = true }
	learner opt = func(m *Member) { m.IsLearner = true }
	down    opt = func(m *Member) { m.Healthy = false }
)

// size sets the file and in-use sizes in MiB.
func size(file, inUse int64) opt {
	return func(m *Member) { m.DBSize, m.DBSizeInUse = file*mib, inUse*mib }
}

func noQuota(m *Member) { m.Quota = 0 }

// mem is a healthy voter at ordinal i with 100 MiB in use, nothing freeable.
func mem(i int, opts ...opt) Member {
	m := Member{ID: id(i), Name: fmt.Sprintf("c-%d", i), Healthy: true, DBSize: 100 * mib, DBSizeInUse: 100 * mib, Quota: quota}
	for _, o := range opts {
		o(&m)
	}
	return m
}

func snap(ms ...Member) Snapshot { return Snapshot{Members: ms, Now: t0, Revision: 500} }

func nospace(s Snapshot, compacted int64) Snapshot {
	s.NoSpace, s.Compacted = true, compacted
	return s
}

func lastDefrag(s Snapshot, ago time.Duration) Snapshot { s.LastDefrag = t0.Add(-ago); return s }

func defrag(i int) Action      { return Action{Kind: Defragment, MemberID: id(i)} }
func move(from, to int) Action { return Action{Kind: MoveLeader, MemberID: id(from), TargetID: id(to)} }
func full(i int) Action        { return Action{Kind: QuotaFull, MemberID: id(i)} }
func waitFor(i int) Action     { return Action{Kind: Wait, MemberID: id(i)} }

var (
	none    = Action{Kind: None}
	wait    = Action{Kind: Wait}
	refuse  = Action{Kind: Refuse}
	disarm  = Action{Kind: Disarm}
	compact = Action{Kind: Compact, Revision: 500}
)

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Snapshot
		want Action
	}{
		// Rules 1-3: preconditions.
		{"no members", snap(), wait},
		{"corrupt refuses even under nospace", func() Snapshot { s := nospace(snap(mem(0, leads)), 0); s.Corrupt = true; return s }(), refuse},
		{"corrupt refuses routine defrag", func() Snapshot { s := snap(mem(0, leads, size(900, 100))); s.Corrupt = true; return s }(), refuse},
		{"voter down waits", snap(mem(0, leads, size(900, 100)), mem(1, size(900, 100)), mem(2, down)), waitFor(2)},
		{"voter down waits under nospace", nospace(snap(mem(0, leads), mem(1, down), mem(2)), 0), waitFor(1)},
		{"no leader waits", snap(mem(0, size(900, 100)), mem(1), mem(2)), wait},
		{"leader down waits", snap(mem(0, leads, down), mem(1, size(900, 100))), waitFor(0)},
		{"learner down is skipped", snap(mem(0, leads), mem(1, size(900, 100)), mem(2, learner, down, size(900, 100))), defrag(1)},

		// Rule 5: thresholds, outside NOSPACE.
		{"healthy cluster, nothing freeable", snap(mem(0, leads), mem(1), mem(2)), none},
		{"share below half", snap(mem(0, leads), mem(1, size(190, 100)), mem(2)), none},
		{"share exactly half", snap(mem(0, leads), mem(1, size(200, 100)), mem(2)), defrag(1)},
		{"share above half", snap(mem(0, leads), mem(1, size(400, 100)), mem(2)), defrag(1)},
		{"half of a tiny file is below the floor", snap(mem(0, leads), mem(1, size(20, 10)), mem(2)), none},
		{"floor exactly", snap(mem(0, leads), mem(1, size(32, 16)), mem(2)), defrag(1)},
		{"freeable bytes threshold",
			func() Snapshot {
				s := snap(mem(0, leads), mem(1, size(700, 600)), mem(2))
				s.Policy.FreeableBytes = 100 * mib
				return s
			}(), defrag(1)},
		{"freeable bytes threshold not reached",
			func() Snapshot {
				s := snap(mem(0, leads), mem(1, size(699, 600)), mem(2))
				s.Policy.FreeableBytes = 100 * mib
				return s
			}(), none},
		{"custom share", func() Snapshot {
			s := snap(mem(0, leads), mem(1, size(400, 300)))
			s.Policy.FreeableShare = 0.25
			return s
		}(), defrag(1)},
		{"schedule takes any member above the floor", func() Snapshot { s := snap(mem(0, leads), mem(1, size(130, 100))); s.Scheduled = true; return s }(), defrag(1)},
		{"schedule skips members below the floor", func() Snapshot {
			s := snap(mem(0, leads, size(110, 100)), mem(1, size(110, 100)))
			s.Scheduled = true
			return s
		}(), none},

		{"thresholds off: a member past the share is left alone", func() Snapshot {
			s := snap(mem(0, leads), mem(1, size(900, 100)))
			s.Policy.NoThreshold = true
			return s
		}(), none},
		{"below MinDBSize: thresholds do not apply", func() Snapshot {
			s := snap(mem(0, leads), mem(1, size(900, 100)))
			s.Policy.MinDBSize = 1000 * mib
			return s
		}(), none},
		{"a pending member is defragmented with nothing to free", func() Snapshot {
			s := snap(mem(0, leads), mem(1))
			s.Policy.NoThreshold = true
			s.Pending = map[uint64]bool{id(1): true}
			return s
		}(), defrag(1)},
		{"a pending leader goes last, after a move", func() Snapshot {
			s := snap(mem(0, leads), mem(1))
			s.Pending = map[uint64]bool{id(0): true}
			return s
		}(), move(0, 1)},
		{"a round pauses between members", func() Snapshot {
			s := lastDefrag(snap(mem(0, leads), mem(1)), time.Second)
			s.Pending = map[uint64]bool{id(1): true}
			return s
		}(), wait},
		{"NOSPACE: a pending member is defragmented before its stale size in use is trusted", func() Snapshot {
			s := nospace(snap(mem(0, leads, size(1000, 990)), mem(1, size(1000, 990))), 500)
			s.Pending = map[uint64]bool{id(0): true, id(1): true}
			return s
		}(), defrag(1)},
		{"NOSPACE: once the round is done, live data full says so", nospace(snap(mem(0, leads, size(990, 990)), mem(1, size(990, 990))), 500), full(0)},
		{"NOSPACE wins over a pending round", func() Snapshot {
			s := nospace(snap(mem(0, leads), mem(1)), 400)
			s.Pending = map[uint64]bool{id(1): true}
			return s
		}(), compact},

		// Order: learners, followers, leader last after a move.
		{"learner before followers", snap(mem(0, leads, size(900, 100)), mem(1, size(900, 100)), mem(3, learner, size(300, 100))), defrag(3)},
		{"larger follower first", snap(mem(0, leads, size(900, 100)), mem(1, size(300, 100)), mem(2, size(800, 100))), defrag(2)},
		{"same size: lower ID first", snap(mem(0, leads), mem(2, size(300, 100)), mem(1, size(300, 100))), defrag(1)},
		{"leader last: move first", snap(mem(0, leads, size(900, 100)), mem(1), mem(2)), move(0, 1)},
		{"leader move target: lowest ID voter", snap(mem(5, leads, size(900, 100)), mem(7), mem(6)), move(5, 6)},
		{"leader move never to a learner", snap(mem(0, leads, size(900, 100)), mem(1, learner)), defrag(0)},
		{"after the move the old leader is a follower", snap(mem(0, size(900, 100)), mem(1, leads), mem(2)), defrag(0)},
		{"lone voter defragmented in place", snap(mem(0, leads, size(900, 100))), defrag(0)},
		{"two voters: follower first", snap(mem(0, leads, size(900, 100)), mem(1, size(900, 100))), defrag(1)},

		// Pacing.
		{"pause between members", lastDefrag(snap(mem(0, leads), mem(1, size(900, 100))), 10*time.Second), wait},
		{"pause over", lastDefrag(snap(mem(0, leads), mem(1, size(900, 100))), 31*time.Second), defrag(1)},
		{"custom pause", func() Snapshot {
			s := lastDefrag(snap(mem(0, leads), mem(1, size(900, 100))), 31*time.Second)
			s.Policy.Pause = time.Minute
			return s
		}(), wait},
		{"nothing to do: no pause needed", lastDefrag(snap(mem(0, leads)), time.Second), none},

		// Rule 4: NOSPACE recovery, step by step on a three-member cluster.
		{"nospace: compact first", nospace(snap(mem(0, leads, size(1000, 990)), mem(1, size(1000, 990)), mem(2, size(1000, 990))), 0), compact},
		{"nospace: compact again after deletes", nospace(snap(mem(0, leads, size(1000, 300))), 400), compact},
		{"nospace: revision unknown", func() Snapshot { s := nospace(snap(mem(0, leads)), 0); s.Revision = 0; return s }(), wait},
		{"nospace: live data fills the quota", nospace(snap(mem(0, leads, size(1000, 950)), mem(1, size(1000, 940)), mem(2, size(1000, 400))), 500), full(0)},
		{"nospace: exactly full share", nospace(snap(mem(0, leads, size(1000, 900))), 500), full(0)},
		{"nospace: followers first", nospace(snap(mem(0, leads, size(1000, 300)), mem(1, size(1000, 300)), mem(2, size(1000, 300))), 500), defrag(1)},
		{"nospace: second follower", nospace(snap(mem(0, leads, size(1000, 300)), mem(1, size(300, 300)), mem(2, size(1000, 300))), 500), defrag(2)},
		{"nospace: move before the leader", nospace(snap(mem(0, leads, size(1000, 300)), mem(1, size(300, 300)), mem(2, size(301, 300))), 500), move(0, 1)},
		{"nospace: old leader now a follower", nospace(snap(mem(0, size(1000, 300)), mem(1, leads, size(300, 300)), mem(2, size(301, 300))), 500), defrag(0)},
		{"nospace: all defragmented: disarm", nospace(snap(mem(0, size(300, 300)), mem(1, leads, size(300, 300)), mem(2, size(301, 300))), 500), disarm},
		{"nospace: pause applies", lastDefrag(nospace(snap(mem(0, leads, size(1000, 300)), mem(1, size(1000, 300))), 500), time.Second), wait},
		{"nospace: small freeable left is not defragmented", nospace(snap(mem(0, leads, size(319, 300))), 500), disarm},
		{"nospace: recovery share reached", nospace(snap(mem(0, leads, size(320, 300))), 500), defrag(0)},
		{"nospace: lone member defragmented in place", nospace(snap(mem(0, leads, size(1000, 100))), 500), defrag(0)},
		{"nospace: learner first", nospace(snap(mem(0, leads, size(1000, 100)), mem(1, learner, size(1000, 100))), 500), defrag(1)},

		// Disarm rule: at most 80 % of the quota, in the band below full.
		{"nospace: exactly 80% disarms", nospace(snap(mem(0, leads, size(800, 800))), 500), disarm},
		{"nospace: 85% in use, nothing freeable: stays", nospace(snap(mem(0, leads, size(850, 850)), mem(1, size(300, 300))), 500), full(0)},
		{"nospace: 85% file, freeable to 79%: defragment", nospace(snap(mem(0, leads, size(850, 790))), 500), defrag(0)},
		{"nospace: 81% file, 1% freeable: stays", nospace(snap(mem(0, leads, size(810, 800))), 500), full(0)},
		{"nospace: unknown quota is etcd's 2 GiB", nospace(snap(mem(0, leads, size(1000, 1000), noQuota)), 500), disarm},
		{"nospace: unknown quota, full", nospace(snap(mem(0, leads, size(1900, 1900), noQuota)), 500), full(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan(tc.s)
			if got.Reason == "" {
				t.Errorf("no reason given for %+v", got)
			}
			reason := got.Reason
			got.Reason = ""
			if got != tc.want {
				t.Errorf("Plan = %+v (%s), want %+v", got, reason, tc.want)
			}
		})
	}
}

// TestRecoveryConverges plays the reconciler: it carries out every action on
// a model of the members until Plan says None, and checks the order and that
// it never loops.
func TestRecoveryConverges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []Member
		inUse   int64 // MiB in use after compaction, on every member
		want    []Kind
		stuck   bool
	}{
		{"three members", []Member{mem(0, leads, size(1000, 990)), mem(1, size(1000, 990)), mem(2, size(1000, 990))}, 300,
			[]Kind{Compact, Defragment, Defragment, MoveLeader, Defragment, Disarm}, false},
		{"one member", []Member{mem(0, leads, size(1000, 990))}, 300, []Kind{Compact, Defragment, Disarm}, false},
		{"with a learner", []Member{mem(0, leads, size(1000, 990)), mem(1, size(1000, 990)), mem(2, learner, size(1000, 990))}, 300,
			[]Kind{Compact, Defragment, Defragment, MoveLeader, Defragment, Disarm}, false},
		{"live data fills the quota", []Member{mem(0, leads, size(1000, 990)), mem(1, size(1000, 990))}, 950, []Kind{Compact, QuotaFull}, true},
		{"too little headroom", []Member{mem(0, leads, size(1000, 990)), mem(1, size(1000, 990))}, 850,
			[]Kind{Compact, Defragment, MoveLeader, Defragment, QuotaFull}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := nospace(snap(tc.members...), 0)
			var got []Kind
			var order []uint64
			for step := 0; step < 20; step++ {
				a := Plan(s)
				if a.Kind == Wait {
					s.Now = s.Now.Add(time.Minute)
					continue
				}
				got = append(got, a.Kind)
				switch a.Kind {
				case Compact:
					s.Compacted = a.Revision
					for i := range s.Members {
						s.Members[i].DBSizeInUse = tc.inUse * mib
					}
				case Defragment:
					for i := range s.Members {
						if s.Members[i].ID == a.MemberID {
							s.Members[i].DBSize = s.Members[i].DBSizeInUse
						}
					}
					s.LastDefrag = s.Now
					order = append(order, a.MemberID)
				case MoveLeader:
					for i := range s.Members {
						s.Members[i].IsLeader = s.Members[i].ID == a.TargetID
					}
				case Disarm:
					s.NoSpace = false
				}
				if a.Kind == None || a.Kind == QuotaFull || a.Kind == Disarm {
					break
				}
			}
			if strings.Join(kinds(got), ",") != strings.Join(kinds(tc.want), ",") {
				t.Fatalf("actions %v, want %v", got, tc.want)
			}
			if !tc.stuck {
				if a := Plan(s); a.Kind != None {
					t.Fatalf("after recovery: %+v, want None", a)
				}
			}
			// The member that led first is defragmented last.
			if len(order) > 1 && order[len(order)-1] != id(0) {
				t.Fatalf("defragmentation order %x: the first leader %x is not last", order, id(0))
			}
		})
	}
}

func kinds(ks []Kind) []string {
	var out []string
	for _, k := range ks {
		out = append(out, string(k))
	}
	return out
}

func TestPolicyHelpers(t *testing.T) {
	var p Policy
	if !p.SafeToDisarm(mem(0, size(800, 100))) || p.SafeToDisarm(mem(0, size(801, 100))) {
		t.Error("SafeToDisarm: want the file at most 80 % of the quota")
	}
	if !p.LiveDataFull(mem(0, size(1000, 900))) || p.LiveDataFull(mem(0, size(1000, 899))) {
		t.Error("LiveDataFull: want in use at least 90 % of the quota")
	}
	if p.PassesThreshold(mem(0, size(0, 0))) || mem(0, size(0, 0)).FreeableShare() != 0 {
		t.Error("an empty member passes the threshold")
	}
	if m := mem(0, size(10, 20)); m.Freeable() != 0 {
		t.Errorf("in use above the file size: freeable %d, want 0", m.Freeable())
	}
	if !(Action{Kind: Defragment}).Changes() || (Action{Kind: QuotaFull}).Changes() || (Action{Kind: Wait}).Changes() {
		t.Error("Changes")
	}
}
