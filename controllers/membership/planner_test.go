package membership

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func peerURL(i int) string { return fmt.Sprintf("https://c-%d.c-peer.ns.svc.cluster.local:2380", i) }

func id(i int) uint64 { return 0xa000 + uint64(i) }

type opt func(*Member)

var (
	leads     opt = func(m *Member) { m.IsLeader = true }
	sick      opt = func(m *Member) { m.Healthy = false }
	unstarted opt = func(m *Member) { m.Name = ""; m.Healthy = false; m.CaughtUp = false }
	behind    opt = func(m *Member) { m.CaughtUp = false }
)

// voter is a started, healthy voter at ordinal i.
func voter(i int, opts ...opt) Member {
	m := Member{ID: id(i), Name: fmt.Sprintf("c-%d", i), PeerURLs: []string{peerURL(i)}, Healthy: true}
	for _, o := range opts {
		o(&m)
	}
	return m
}

// learner is a started, healthy, caught-up learner at ordinal i.
func learner(i int, opts ...opt) Member {
	m := voter(i)
	m.IsLearner, m.CaughtUp = true, true
	for _, o := range opts {
		o(&m)
	}
	return m
}

// voters are healthy voters 0..n-1, the first one leading.
func voters(n int) []Member {
	var ms []Member
	for i := range n {
		if i == 0 {
			ms = append(ms, voter(i, leads))
		} else {
			ms = append(ms, voter(i))
		}
	}
	return ms
}

// snap has running, ready pods for every ordinal below sts.
func snap(desired, sts int32, ms ...Member) Snapshot {
	pods := map[int]Pod{}
	for i := range int(sts) {
		pods[i] = Pod{Exists: true, Ready: true}
	}
	return Snapshot{Desired: desired, STSReplicas: sts, Members: ms, Pods: pods, PeerURL: peerURL}
}

func withoutPod(s Snapshot, i int) Snapshot { delete(s.Pods, i); return s }

func withPod(s Snapshot, i int) Snapshot { s.Pods[i] = Pod{Exists: true}; return s }

func dataLost(s Snapshot, i int) Snapshot { s.Pods[i] = Pod{Exists: true, DataLost: true}; return s }

// refusesCorrupt: the pod at ordinal i reports member ID reported as corrupt.
func refusesCorrupt(s Snapshot, i int, reported uint64) Snapshot {
	s.Pods[i] = Pod{Exists: true, CorruptID: reported}
	return s
}

var (
	hashMinority opt = func(m *Member) { m.Corrupt = true }
	readded      opt = func(m *Member) { m.ID += 0x1000 } // a member added again gets a new ID
)

func cat(groups ...[]Member) []Member { return slices.Concat(groups...) }

func none() Action          { return Action{Kind: None, Ordinal: -1} }
func waitAt(o int) Action   { return Action{Kind: Wait, Ordinal: o} }
func refuseAt(o int) Action { return Action{Kind: Refuse, Ordinal: o} }
func add(o int) Action      { return Action{Kind: AddLearner, Ordinal: o, PeerURL: peerURL(o)} }
func grow(r int32) Action   { return Action{Kind: GrowStatefulSet, Ordinal: int(r) - 1, Replicas: r} }
func shrink(r int32) Action { return Action{Kind: ShrinkStatefulSet, Ordinal: int(r), Replicas: r} }
func promote(o int) Action  { return Action{Kind: PromoteLearner, Ordinal: o, MemberID: id(o)} }
func remove(o int) Action   { return Action{Kind: RemoveMember, Ordinal: o, MemberID: id(o)} }
func move(from, to int) Action {
	return Action{Kind: MoveLeader, Ordinal: from, MemberID: id(from), TargetID: id(to)}
}
func reversed(ms []Member) []Member { ms = slices.Clone(ms); slices.Reverse(ms); return ms }

type planCase struct {
	name   string
	s      Snapshot
	want   Action
	reason string // substring the reason must contain
}

func planCases() []planCase {
	foreign := voter(7)
	foreign.PeerURLs = []string{"https://elsewhere.example:2380"}
	dup := voter(1)
	dup.ID = 0xbeef
	twoURLs := voter(2)
	twoURLs.PeerURLs = []string{"http://10.0.0.3:2380", peerURL(2)}
	split := voter(1)
	split.PeerURLs = []string{peerURL(1), peerURL(4)}
	// Ordinals 0..10 listed in string order of their names: c-0, c-1, c-10, c-2, ..., c-9.
	eleven := voters(11)
	slices.SortFunc(eleven, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	eleven9leads := slices.Clone(eleven)
	for i := range eleven9leads {
		eleven9leads[i].IsLeader = eleven9leads[i].Name == "c-9"
	}

	return []planCase{
		// Steady states.
		{"steady 1", snap(1, 1, voters(1)...), none(), "1 voters"},
		{"steady 3", snap(3, 3, voters(3)...), none(), "3 voters"},
		{"steady 5", snap(5, 5, voters(5)...), none(), "5 voters"},
		{"steady 3 with an unhealthy voter is still nothing to do", snap(3, 3, voter(0, leads), voter(1, sick), voter(2)), none(), "1 unhealthy"},
		{"steady 3 listed in reverse order", snap(3, 3, reversed(voters(3))...), none(), ""},
		{"steady 3 with a pod missing (StatefulSet recreates it)", withoutPod(snap(3, 3, voter(0, leads), voter(1), voter(2, sick)), 2), none(), ""},
		{"member with an extra peer URL still maps to its ordinal", snap(3, 3, voter(0, leads), voter(1), twoURLs), none(), ""},

		// Bad input and unreachable cluster.
		{"empty member list", snap(3, 3), waitAt(-1), "unreachable"},
		{"empty member list while scaling up", snap(5, 3), waitAt(-1), "unreachable"},
		{"desired 0", snap(0, 3, voters(3)...), refuseAt(-1), "below 1"},
		{"no peer URL function", Snapshot{Desired: 3, STSReplicas: 3, Members: voters(3)}, refuseAt(-1), "peer URL"},
		{"foreign member", snap(3, 3, cat(voters(3), []Member{foreign})...), refuseAt(-1), "foreign member"},
		{"two members on one ordinal", snap(3, 3, cat(voters(3), []Member{dup})...), refuseAt(1), "both have"},
		{"member with peer URLs of two ordinals", snap(3, 3, voter(0, leads), split, voter(2)), refuseAt(-1), "two ordinals"},

		// 1 → 3, every step.
		{"1→3: add learner 1", snap(3, 1, voters(1)...), add(1), "1 of 3"},
		{"1→3: learner 1 added, grow to 2", snap(3, 1, voter(0, leads), learner(1, unstarted)), grow(2), "no pod"},
		{"1→3: grown, pod 1 not created yet", withoutPod(snap(3, 2, voter(0, leads), learner(1, unstarted)), 1), waitAt(1), "pod to be created"},
		{"1→3: pod 1 exists, learner not started", snap(3, 2, voter(0, leads), learner(1, unstarted)), waitAt(1), "waiting for it to start"},
		{"1→3: learner 1 catching up", snap(3, 2, voter(0, leads), learner(1, behind)), waitAt(1), "catching up"},
		{"1→3: promote learner 1", snap(3, 2, voter(0, leads), learner(1)), promote(1), "2 of 3"},
		{"1→3: add learner 2", snap(3, 2, voters(2)...), add(2), "2 of 3"},
		{"1→3: learner 2 added, grow to 3", snap(3, 2, cat(voters(2), []Member{learner(2, unstarted)})...), grow(3), ""},
		{"1→3: promote learner 2", snap(3, 3, cat(voters(2), []Member{learner(2)})...), promote(2), "3 of 3"},

		// 3 → 5.
		{"3→5: add learner 3", snap(5, 3, voters(3)...), add(3), "3 of 5"},
		{"3→5: add learner 4", snap(5, 4, voters(4)...), add(4), "4 of 5"},
		{"3→5: learner 4 not answering", snap(5, 5, cat(voters(4), []Member{learner(4, sick)})...), waitAt(4), "not answering"},
		{"3→5: promote learner 4", snap(5, 5, cat(voters(4), []Member{learner(4)})...), promote(4), "5 of 5"},

		// 5 → 3, every step.
		{"5→3: remove 4", snap(3, 5, voters(5)...), remove(4), "removing member c-4"},
		{"5→3: 4 removed, shrink to 4", snap(3, 5, voters(4)...), shrink(4), "ordinal 4 has no member"},
		{"5→3: remove 3", snap(3, 4, voters(4)...), remove(3), ""},
		{"5→3: 3 removed, shrink to 3", snap(3, 4, voters(3)...), shrink(3), ""},

		// 3 → 1.
		{"3→1: remove 2", snap(1, 3, voters(3)...), remove(2), ""},
		{"3→1: shrink to 2", snap(1, 3, voters(2)...), shrink(2), ""},
		{"3→1: remove 1 (2 voters → 1 keeps quorum)", snap(1, 2, voters(2)...), remove(1), ""},
		{"3→1: shrink to 1", snap(1, 2, voters(1)...), shrink(1), ""},

		// The member to remove leads.
		{"3→2: 2 leads, move leadership to 0", snap(2, 3, voter(0), voter(1), voter(2, leads)), move(2, 0), "moving leadership"},
		{"5→4: 4 leads, 0 sick, move leadership to 1", snap(4, 5, voter(0, sick), voter(1), voter(2), voter(3), voter(4, leads)), move(4, 1), ""},
		{"5→3: 4 leads, move to 0 not to 3 (which goes next)", snap(3, 5, voter(0), voter(1), voter(2), voter(3), voter(4, leads)), move(4, 0), ""},
		{"3→2: 2 leads but quorum would be lost: refuse, no pointless move", snap(2, 3, voter(0), voter(1, sick), voter(2, leads)), refuseAt(2), "below quorum"},

		// Quorum.
		{"3→2: 0 sick, removing healthy 2 leaves 1 of 2", snap(2, 3, voter(0, sick), voter(1, leads), voter(2)), refuseAt(2), "1 healthy of 2 voters, below quorum 2"},
		{"3→2: removing the sick member 2 is fine", snap(2, 3, voter(0, leads), voter(1), voter(2, sick)), remove(2), ""},
		{"5→4: 0 and 1 sick, removing healthy 4 leaves 2 of 4", snap(4, 5, voter(0, sick), voter(1, sick), voter(2, leads), voter(3), voter(4)), refuseAt(4), "2 healthy of 4 voters, below quorum 3"},
		{"5→4: 1 and 4 sick, removing sick 4 leaves 3 of 4", snap(4, 5, voter(0, leads), voter(1, sick), voter(2), voter(3), voter(4, sick)), remove(4), ""},

		// Last voter.
		{"last voter is never removed", snap(1, 2, voter(1, leads)), refuseAt(1), "last voter"},
		{"last voter with a learner below it is never removed", snap(1, 2, learner(0), voter(1, leads)), refuseAt(1), "last voter"},

		// Learners on the way out: removed directly, even in a sick cluster.
		{"desired lowered while learner 3 runs", snap(3, 4, voter(0, leads), voter(1, sick), voter(2), learner(3, behind)), remove(3), "removing learner"},
		{"desired lowered after learner 3 was added, before growing", snap(3, 3, cat(voters(3), []Member{learner(3, unstarted)})...), remove(3), "learner"},

		// Interrupted half-steps.
		{"zombie: StatefulSet shrunk, member 2 not removed", snap(2, 2, voter(0, leads), voter(1), voter(2, sick)), remove(2), "pod is already gone"},
		{"zombie whose removal would lose quorum", snap(2, 2, voter(0, leads), voter(1, sick), voter(2, sick)), refuseAt(2), "below quorum"},
		{"pod without member above the highest member but below desired is a hole, not shrunk", snap(3, 3, voters(2)...), add(2), "pod exists"},
		{"several pods without members are shrunk away in one step", snap(3, 5, voters(3)...), shrink(3), "ordinals 3 to 4 have no members"},
		{"pods above desired are shrunk away, the top hole below desired stays", snap(3, 5, voters(2)...), shrink(3), "ordinals 3 to 4 have no members"},
		{"one pod above desired is shrunk away", snap(2, 3, voters(2)...), shrink(2), "ordinal 2 has no member"},
		{"pods without members go before a member is removed", snap(1, 4, voters(2)...), shrink(2), ""},
		{"hole: member 1 missing, its pod still there", snap(3, 3, voter(0, leads), voter(2)), add(1), "pod exists"},
		{"StatefulSet shrunk under voters: grow back", snap(3, 2, voters(3)...), grow(3), "no pod"},
		{"two learners: the lowest ordinal first", snap(3, 3, voter(0, leads), learner(1), learner(2)), promote(1), ""},

		// Scale-up guards.
		{"unhealthy voter during scale-up", snap(3, 1, voter(0, leads, sick)), waitAt(0), "sick cluster"},
		{"unhealthy voter 2 of 3 during 3→5", snap(5, 3, voter(0, leads), voter(1), voter(2, sick)), waitAt(2), "sick cluster"},
		{"promotion would leave no quorum", snap(4, 4, voter(0, leads), voter(1, sick), voter(2, sick), learner(3)), waitAt(3), "below quorum"},

		// Lost data: remove the member, then add it back empty.
		{"member 1 of 3 lost its data", dataLost(snap(3, 3, voter(0, leads), voter(1, sick), voter(2)), 1), remove(1), "lost its data"},
		{"then ordinal 1 is added back as a learner", withPod(snap(3, 3, voter(0, leads), voter(2)), 1), add(1), "adding ordinal 1"},
		{"lost data while another voter is down: refused", dataLost(snap(3, 3, voter(0, leads), voter(1, sick), voter(2, sick)), 1), refuseAt(1), "below quorum"},
		{"lost data of the only member: refused", dataLost(snap(1, 1, voter(0, sick)), 0), refuseAt(0), "restore the cluster from a backup"},
		{"lost data of a learner: removed", dataLost(snap(3, 3, voter(0, leads), voter(1), learner(2, unstarted)), 2), remove(2), "lost its data"},
		{"lost data wins over scaling down", dataLost(snap(2, 3, voter(0, leads), voter(1, sick), voter(2)), 1), remove(1), "lost its data"},

		// Corrupt data: replaced like lost data, one member at a time.
		{"corrupt member 1 of 3 refuses to start: removed", refusesCorrupt(snap(3, 3, voter(0, leads), voter(1, sick), voter(2)), 1, id(1)), remove(1), "refuses to start"},
		{"then ordinal 1 is added back although its old pod still reports corrupt data", refusesCorrupt(snap(3, 3, voter(0, leads), voter(2)), 1, id(1)), add(1), "adding ordinal 1"},
		{"the learner's pod still shows the old member's report: promoted, not removed", refusesCorrupt(snap(3, 3, voter(0, leads), voter(2), learner(1, readded)), 1, id(1)),
			Action{Kind: PromoteLearner, Ordinal: 1, MemberID: id(1) + 0x1000}, "caught up"},
		{"corrupt member at the top ordinal: removed", refusesCorrupt(snap(3, 3, voter(0, leads), voter(1), voter(2, sick)), 2, id(2)), remove(2), "refuses to start"},
		{"then the top ordinal is added back, not shrunk away with its set-aside data", refusesCorrupt(snap(3, 3, voter(0, leads), voter(1)), 2, id(2)), add(2), "pod exists"},
		{"lost data at the top ordinal: added back, not shrunk away", withPod(snap(3, 3, voter(0, leads), voter(1)), 2), add(2), "adding ordinal 2"},
		{"corrupt member by HashKV: removed", snap(3, 3, voter(0, leads), voter(1), voter(2, hashMinority)), remove(2), "HashKV differs"},
		{"corrupt leader by HashKV: leadership moves first", snap(3, 3, voter(0, leads, hashMinority), voter(1), voter(2)), move(0, 1), "moving leadership"},
		{"corrupt leader, the only other healthy voter is corrupt too: refused", snap(5, 5, voter(0, leads, hashMinority), voter(1, hashMinority), voter(2, sick), voter(3, sick), voter(4, sick)), refuseAt(0), "below quorum"},
		{"corrupt only member: refused, restore advised", refusesCorrupt(snap(1, 1, voter(0, sick)), 0, id(0)), refuseAt(0), "restore the cluster from a backup"},
		{"corrupt only member by HashKV: refused", snap(1, 1, voter(0, leads, hashMinority)), refuseAt(0), "last voter"},
		{"two corrupt members of 3, both down: refused (no quorum without either)",
			refusesCorrupt(refusesCorrupt(snap(3, 3, voter(0, leads), voter(1, sick), voter(2, sick)), 1, id(1)), 2, id(2)), refuseAt(1), "below quorum"},
		{"two corrupt members of 5, both down: the first is removed",
			refusesCorrupt(refusesCorrupt(snap(5, 5, voter(0, leads), voter(1, sick), voter(2, sick), voter(3), voter(4)), 1, id(1)), 2, id(2)), remove(1), "removing it by ID"},
		{"then the second waits: its hole is refilled first (the corrupt voter is not a sick cluster)",
			refusesCorrupt(withPod(snap(5, 5, voter(0, leads), voter(2, sick), voter(3), voter(4)), 1), 2, id(2)), add(1), "adding ordinal 1"},
		{"and the learner promoted first",
			refusesCorrupt(snap(5, 5, voter(0, leads), learner(1), voter(2, sick), voter(3), voter(4)), 2, id(2)), promote(1), ""},
		{"then the second is removed",
			refusesCorrupt(snap(5, 5, voter(0, leads), voter(1), voter(2, sick), voter(3), voter(4)), 2, id(2)), remove(2), "refuses to start"},
		{"a report naming another member ID is stale: nothing to do", refusesCorrupt(snap(3, 3, voters(3)...), 1, 0xdead), none(), "3 voters"},
		{"corrupt learner: removed", snap(3, 3, voter(0, leads), voter(1), learner(2, hashMinority)), remove(2), "learner"},
		{"lost data comes before corrupt data", refusesCorrupt(dataLost(snap(5, 5, voter(0, leads), voter(1), voter(2, sick), voter(3, sick), voter(4)), 3), 2, id(2)), remove(3), "lost its data"},

		// Ordinals 9 and 10 are compared as numbers.
		{"11→10: remove ordinal 10, not 9", snap(10, 11, eleven...), remove(10), "c-10"},
		{"11→10: 9 leads, 10 is still removed without moving leadership", snap(10, 11, eleven9leads...), remove(10), ""},
		{"11→10: 10 removed, shrink to 10", snap(10, 11, voters(10)...), shrink(10), ""},
		{"10→11: add ordinal 10", snap(11, 10, voters(10)...), add(10), "adding ordinal 10"},
		{"11→10 reverse listed", snap(10, 11, reversed(eleven)...), remove(10), ""},
	}
}

func TestPlan(t *testing.T) {
	for _, tc := range planCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan(tc.s)
			if got.Reason == "" {
				t.Errorf("empty reason in %+v", got)
			}
			if !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason %q does not contain %q", got.Reason, tc.reason)
			}
			reason := got.Reason
			t.Logf("%s: %s", got.Kind, reason)
			got.Reason = ""
			if got != tc.want {
				t.Errorf("Plan() = %+v\nwant      %+v\n(reason: %s)", got, tc.want, reason)
			}
		})
	}
}

// TestPlanDeterministic: an operator restarted between two steps sees the
// same snapshot and must take the same action; the order of the member list
// must not matter either.
func TestPlanDeterministic(t *testing.T) {
	for _, tc := range planCases() {
		t.Run(tc.name, func(t *testing.T) {
			a, b := Plan(tc.s), Plan(tc.s)
			if a != b {
				t.Fatalf("two calls differ:\n%+v\n%+v", a, b)
			}
			r := tc.s
			r.Members = reversed(tc.s.Members)
			if c := Plan(r); c != a {
				t.Fatalf("reversed member list gives\n%+v\nwant %+v", c, a)
			}
		})
	}
}

func TestChanges(t *testing.T) {
	for k, want := range map[Kind]bool{
		None: false, Wait: false, Refuse: false,
		AddLearner: true, PromoteLearner: true, GrowStatefulSet: true,
		MoveLeader: true, RemoveMember: true, ShrinkStatefulSet: true,
	} {
		if got := (Action{Kind: k}).Changes(); got != want {
			t.Errorf("%s.Changes() = %v, want %v", k, got, want)
		}
	}
}

func TestQuorum(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4} {
		if got := Quorum(n); got != want {
			t.Errorf("Quorum(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestPlanBootstrap(t *testing.T) {
	low := learner(4, unstarted)
	low.ID = 0x1
	cases := []planCase{
		{"a forming cluster: nothing to remove", snap(3, 3, voter(0), voter(1, unstarted), voter(2, unstarted)), none(), "no learner"},
		{"recreated mid-scale-up: the unstarted learner is removed", snap(3, 3, cat(voters(3), []Member{learner(3, unstarted)})...), remove(3), "left over"},
		{"its pod slot exists (recreated with 5 replicas): still removed", snap(5, 5, cat(voters(3), []Member{learner(3, unstarted)})...), remove(3), "never started"},
		{"the members have not started either", snap(3, 3, voter(0, unstarted), voter(1, unstarted), voter(2, unstarted), learner(3, unstarted)), remove(3), "quorum is unchanged"},
		{"a started learner has data: left to Plan", snap(5, 4, cat(voters(3), []Member{learner(3)})...), none(), ""},
		{"two leftovers: the lowest ID first", snap(5, 5, cat(voters(3), []Member{learner(3, unstarted), low})...), Action{Kind: RemoveMember, Ordinal: 4, MemberID: 0x1}, "ordinal 4"},
		{"a learner of no known ordinal is still removed by ID", Snapshot{Desired: 3, STSReplicas: 3, Members: cat(voters(3), []Member{{ID: 0x77, IsLearner: true, PeerURLs: []string{"https://x:2380"}}})},
			Action{Kind: RemoveMember, Ordinal: -1, MemberID: 0x77}, "learner 77 never"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := PlanBootstrap(tc.s)
			if got.Kind != tc.want.Kind || got.Ordinal != tc.want.Ordinal || got.MemberID != tc.want.MemberID {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", got.Reason, tc.reason)
			}
		})
	}
}
