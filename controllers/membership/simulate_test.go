package membership

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// sim is a model cluster the planner's actions are applied to. A member
// starts as soon as its pod exists; a started learner is caught up at once.
//
// A pod that outlives its removed member keeps that member's data (stale)
// and starts no other member on it. As in the real system it does not wait
// for a shrink: etcd stops a member that applies its own removal
// (etcd server.go, "permanently removed"), quorum-etcd then exits
// (server.Run: "stopped on its own") and the container restarts; a member
// that refuses to start for corrupt data crash-loops, and the reconciler
// deletes its pod after the removal (restartRemovedPod). Either way the
// restarted server finds its member ID gone (planRestart), sets the data
// aside and waits to join (planJoin): when a learner is added at its
// ordinal, the pod's data is set aside (a corrupt one kept on the volume)
// and the learner starts. A shrink deletes the pods and volumes above it
// (storage.whenScaled: Delete).
type sim struct {
	t       *testing.T
	rng     *rand.Rand
	members map[int]*simMember // by ordinal
	sts     int
	desired int // as last planned for
	leader  int // ordinal, -1 when there is none
	down    map[int]bool
	stale   map[int]bool // ordinals whose pod holds a removed member's data
	corrupt map[int]bool // ordinals whose data is corrupt: the member refuses to start
	kept    map[int]bool // ordinals whose volume keeps a set-aside corrupt copy
	nextID  uint64
}

type simMember struct {
	id      uint64
	learner bool
	started bool
}

// newSim is a steady cluster of n voters with a random leader.
func newSim(t *testing.T, rng *rand.Rand, n int) *sim {
	c := &sim{t: t, rng: rng, members: map[int]*simMember{}, sts: n, down: map[int]bool{}, stale: map[int]bool{},
		corrupt: map[int]bool{}, kept: map[int]bool{}, nextID: 1}
	for i := range n {
		c.members[i] = &simMember{id: c.newID(), started: true}
	}
	c.leader = rng.IntN(n)
	return c
}

func (c *sim) newID() uint64 { c.nextID++; return c.nextID<<8 | uint64(c.rng.IntN(256)) }

func (c *sim) healthy(o int) bool {
	m, ok := c.members[o]
	return ok && m.started && o < c.sts && !c.down[o] && !c.corrupt[o]
}

func (c *sim) counts() (voters, healthyVoters, learners int) {
	for o, m := range c.members {
		switch {
		case m.learner:
			learners++
		default:
			voters++
			if c.healthy(o) {
				healthyVoters++
			}
		}
	}
	return
}

// settle starts members whose pod exists and elects a leader when needed.
func (c *sim) settle() {
	for o, m := range c.members {
		if o < c.sts && !c.stale[o] {
			m.started = true
		}
	}
	if c.leader >= 0 && c.healthy(c.leader) && !c.members[c.leader].learner {
		return
	}
	c.leader = -1
	if v, h, _ := c.counts(); h >= Quorum(v) {
		for o := 0; o < c.sts+len(c.members); o++ {
			if m, ok := c.members[o]; ok && !m.learner && c.healthy(o) {
				c.leader = o
				return
			}
		}
	}
}

// snapshot lists the members in a random order, as etcd may.
func (c *sim) snapshot(desired int) Snapshot {
	c.desired = desired
	s := Snapshot{Desired: int32(desired), STSReplicas: int32(c.sts), Pods: map[int]Pod{}, PeerURL: peerURL}
	for o := range c.sts {
		p := Pod{Exists: true, Ready: c.healthy(o)}
		if m, ok := c.members[o]; ok && c.corrupt[o] && !c.stale[o] {
			p.CorruptID = m.id
		}
		s.Pods[o] = p
	}
	for o, m := range c.members {
		mm := Member{ID: m.id, PeerURLs: []string{peerURL(o)}, IsLearner: m.learner, Healthy: c.healthy(o), IsLeader: o == c.leader}
		if m.started {
			mm.Name = fmt.Sprintf("c-%d", o)
		}
		mm.CaughtUp = m.learner && mm.Healthy
		s.Members = append(s.Members, mm)
	}
	c.rng.Shuffle(len(s.Members), func(i, j int) { s.Members[i], s.Members[j] = s.Members[j], s.Members[i] })
	return s
}

func (c *sim) byID(id uint64) (int, *simMember) {
	for o, m := range c.members {
		if m.id == id {
			return o, m
		}
	}
	c.t.Fatalf("no member %x", id)
	return -1, nil
}

// apply carries out a, failing the test on anything unsafe.
func (c *sim) apply(a Action) {
	c.t.Helper()
	voters, healthy, learners := c.counts()
	switch a.Kind {
	case AddLearner:
		// A voter down only for its corrupt data, waiting for its
		// replacement, does not make the cluster sick (rule 8).
		waiting := 0
		for o, m := range c.members {
			if !m.learner && c.corrupt[o] {
				waiting++
			}
		}
		if _, ok := c.members[a.Ordinal]; ok || a.PeerURL != peerURL(a.Ordinal) || learners > 0 || healthy+waiting != voters {
			c.t.Fatalf("bad %+v (learners %d, healthy %d of %d, %d corrupt)", a, learners, healthy, voters, waiting)
		}
		c.members[a.Ordinal] = &simMember{id: c.newID(), learner: true}
		if c.stale[a.Ordinal] {
			// The pod's restarted server, waiting to join, sets the
			// removed member's data aside and joins as this learner.
			delete(c.stale, a.Ordinal)
			if c.corrupt[a.Ordinal] {
				delete(c.corrupt, a.Ordinal)
				c.kept[a.Ordinal] = true
			}
		}
	case GrowStatefulSet:
		if int(a.Replicas) <= c.sts {
			c.t.Fatalf("grow to %d from %d", a.Replicas, c.sts)
		}
		c.sts = int(a.Replicas)
	case PromoteLearner:
		o, m := c.byID(a.MemberID)
		if !m.learner || !c.healthy(o) || healthy+1 < Quorum(voters+1) {
			c.t.Fatalf("bad %+v", a)
		}
		m.learner = false
	case MoveLeader:
		from, _ := c.byID(a.MemberID)
		to, m := c.byID(a.TargetID)
		if from != c.leader || m.learner || !c.healthy(to) {
			c.t.Fatalf("bad %+v (leader %d)", a, c.leader)
		}
		c.leader = to
	case RemoveMember:
		o, m := c.byID(a.MemberID)
		if !m.learner {
			if voters <= 1 {
				c.t.Fatalf("removed the last voter: %+v", a)
			}
			if o == c.leader {
				c.t.Fatalf("removed the leader without moving leadership: %+v", a)
			}
			left := healthy
			if c.healthy(o) {
				left--
			}
			if left < Quorum(voters-1) {
				c.t.Fatalf("removal loses quorum: %+v (%d healthy of %d left)", a, left, voters-1)
			}
		}
		delete(c.members, o)
		if o < c.sts {
			c.stale[o] = true
		}
	case ShrinkStatefulSet:
		if int(a.Replicas) >= c.sts {
			c.t.Fatalf("shrink to %d from %d", a.Replicas, c.sts)
		}
		for o := range c.members {
			if o >= int(a.Replicas) {
				c.t.Fatalf("shrink to %d below member at ordinal %d", a.Replicas, o)
			}
		}
		if int(a.Replicas) < c.desired {
			c.t.Fatalf("shrink to %d below desired %d deletes a wanted volume: %+v", a.Replicas, c.desired, a)
		}
		c.sts = int(a.Replicas)
		for _, m := range []map[int]bool{c.stale, c.corrupt, c.kept} {
			for o := range m {
				if o >= c.sts {
					delete(m, o)
				}
			}
		}
	default:
		c.t.Fatalf("apply %+v", a)
	}
	c.settle()
}

// converged checks the cluster is exactly desired voters on ordinals 0..desired-1.
func (c *sim) converged(desired int) {
	c.t.Helper()
	voters, healthy, learners := c.counts()
	if voters != desired || healthy != desired || learners != 0 || c.sts != desired {
		c.t.Fatalf("None but voters %d (healthy %d), learners %d, sts %d, desired %d", voters, healthy, learners, c.sts, desired)
	}
	for o := range desired {
		if _, ok := c.members[o]; !ok {
			c.t.Fatalf("None but ordinal %d has no member", o)
		}
	}
}

// run plans and applies until None, at most limit changes. In a healthy
// cluster nothing should ever wait or be refused.
func (c *sim) run(desired, limit int) int {
	c.t.Helper()
	for step := 0; ; step++ {
		a := Plan(c.snapshot(desired))
		if a.Kind == None {
			c.converged(desired)
			return step
		}
		if step == limit {
			c.t.Fatalf("not converged to %d after %d changes, next: %+v", desired, limit, a)
		}
		if !a.Changes() {
			c.t.Fatalf("healthy cluster, step %d: %+v", step, a)
		}
		c.apply(a)
		if v, h, _ := c.counts(); h < Quorum(v) {
			c.t.Fatalf("after %+v: %d healthy of %d voters, below quorum", a, h, v)
		}
	}
}

// Every size 1..7 to every size 1..7, several random leaders each: at most
// three changes per member added or removed, plus one leadership move.
func TestSimulateScaling(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for from := 1; from <= 7; from++ {
		for to := 1; to <= 7; to++ {
			for round := range 5 {
				t.Run(fmt.Sprintf("%d→%d/%d", from, to, round), func(t *testing.T) {
					c := newSim(t, rng, from)
					diff := max(to-from, from-to)
					c.run(to, 3*diff+1)
				})
			}
		}
	}
}

// The desired size changes in the middle of scaling, leaving every kind of
// half-step behind; the planner must still converge.
func TestSimulateChangeOfMind(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 300 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			c := newSim(t, rng, 1+rng.IntN(7))
			for range 1 + rng.IntN(4) {
				desired := 1 + rng.IntN(7)
				for range rng.IntN(6) {
					a := Plan(c.snapshot(desired))
					if a.Kind == None {
						break
					}
					if !a.Changes() {
						t.Fatalf("healthy cluster: %+v", a)
					}
					c.apply(a)
				}
			}
			c.run(1+rng.IntN(7), 3*7+2)
		})
	}
}

// A member's data turns corrupt (it refuses to start), at the top ordinal
// and at a random one: it is replaced in place, its ordinal never shrunk
// away, and its corrupt copy stays on its volume.
func TestSimulateCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for n := 2; n <= 7; n++ {
		for round := range 5 {
			t.Run(fmt.Sprintf("%d/%d", n, round), func(t *testing.T) {
				c := newSim(t, rng, n)
				bad := []int{n - 1}
				if round > 0 && n >= 5 { // two corrupt at once keep quorum from 5 up
					if o := rng.IntN(n - 1); o != n-1 {
						bad = append(bad, o)
					}
				}
				for _, o := range bad {
					c.corrupt[o] = true
				}
				c.settle()
				for step := 0; ; step++ {
					a := Plan(c.snapshot(n))
					if a.Kind == None {
						break
					}
					if !a.Changes() || step > 4*len(bad)+2 {
						t.Fatalf("step %d: %+v", step, a)
					}
					if a.Kind == ShrinkStatefulSet || a.Kind == GrowStatefulSet {
						t.Fatalf("step %d: resizing while replacing corrupt members: %+v", step, a)
					}
					c.apply(a)
				}
				c.converged(n)
				for _, o := range bad {
					if !c.kept[o] || c.corrupt[o] || c.stale[o] {
						t.Fatalf("ordinal %d: corrupt copy kept %t (still corrupt %t, stale %t)", o, c.kept[o], c.corrupt[o], c.stale[o])
					}
				}
			})
		}
	}
}

// Members fail and recover at random while the planner works: every change
// it makes must still be safe, and once all are healthy again it converges.
func TestSimulateFaults(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 200 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			c := newSim(t, rng, 1+rng.IntN(7))
			desired := 1 + rng.IntN(7)
			for step := range 60 {
				if step%15 == 0 {
					desired = 1 + rng.IntN(7)
				}
				for o := range c.sts + len(c.members) {
					c.down[o] = rng.IntN(5) == 0
				}
				c.settle()
				if a := Plan(c.snapshot(desired)); a.Changes() {
					c.apply(a) // apply fails the test on an unsafe change
				}
			}
			clear(c.down)
			c.settle()
			c.run(desired, 3*7+2)
		})
	}
}
