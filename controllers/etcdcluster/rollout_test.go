package etcdcluster

import (
	"strings"
	"testing"
)

// Flags of a test pod; without any it is ready, runs the update revision
// and its member is a healthy voter.
const (
	old       = 1 << iota // outdated
	notReady              // not ready
	term                  // terminating (and so not ready)
	broken                // not ready for a cause waiting does not cure
	overdue               // not ready past the progress deadline
	unhealthy             // its member did not answer
	learner               // its member is a learner
	noMember              // not in the member list
)

func tpod(o, f int) podInfo {
	p := podInfo{
		Name: "c-" + string(rune('0'+o)), Ordinal: o, MemberID: uint64(100 + o),
		Outdated: f&old != 0, Ready: f&(notReady|term|broken|overdue) == 0, Terminating: f&term != 0,
		Broken: f&broken != 0, Overdue: f&overdue != 0, Healthy: f&unhealthy == 0, Voter: f&learner == 0,
	}
	if f&noMember != 0 {
		p.MemberID, p.Healthy, p.Voter = 0, false, false
	}
	return p
}

func TestPlanRollout(t *testing.T) {
	type want struct {
		pod       string
		replace   bool
		move      uint64
		preflight string
		blocked   bool
		stuck     string
		left      int
		reason    string
	}
	cases := []struct {
		name      string
		pods      []podInfo
		leader    uint64
		preflight preflightState
		want      want
	}{
		// Nothing to do.
		{"nothing outdated", []podInfo{tpod(0, 0), tpod(1, 0), tpod(2, 0)}, 100, preflightNone, want{}},
		{"nothing outdated, a pod overdue: not a rollout's business", []podInfo{tpod(0, 0), tpod(1, 0), tpod(2, overdue|broken|unhealthy)}, 100, preflightNone, want{}},

		// The health-gated rollout, preflight passed.
		{"followers first, highest ordinal first", []podInfo{tpod(0, old), tpod(1, old), tpod(2, old)}, 102, preflightPassed, want{pod: "c-1", left: 3, reason: "restarting c-1"}},
		{"leader 0 is kept for last", []podInfo{tpod(0, old), tpod(1, old), tpod(2, 0)}, 100, preflightNone, want{pod: "c-1", left: 2, reason: "restarting c-1"}},
		{"only the leader left: move leadership first", []podInfo{tpod(0, old), tpod(1, 0), tpod(2, 0)}, 100, preflightNone, want{move: 101, left: 1, reason: "moving leadership away from c-0"}},
		{"leadership moved: restart the old leader", []podInfo{tpod(0, old), tpod(1, 0), tpod(2, 0)}, 101, preflightNone, want{pod: "c-0", left: 1, reason: "restarting c-0"}},
		{"no healthy updated voter to take over: restart the leader", []podInfo{tpod(0, old), tpod(1, learner), tpod(2, old)}, 100, preflightPassed, want{pod: "c-2", left: 2, reason: "restarting c-2"}},
		{"a pod not ready: wait", []podInfo{tpod(0, old), tpod(1, notReady), tpod(2, old)}, 100, preflightPassed, want{left: 2, reason: "waiting for pod c-1"}},
		{"a member unhealthy: wait", []podInfo{tpod(0, old), tpod(1, old|unhealthy), tpod(2, old)}, 100, preflightPassed, want{left: 3, reason: "every member to be healthy"}},
		{"a restarted pod terminating: wait", []podInfo{tpod(0, old), tpod(1, old|term), tpod(2, old)}, 100, preflightPassed, want{left: 3, reason: "waiting for pod c-1"}},
		{"restarted pod recreated, still starting: wait", []podInfo{tpod(0, old), tpod(1, notReady|unhealthy), tpod(2, 0)}, 100, preflightPassed, want{left: 1, reason: "waiting for pod c-1"}},
		{"single member: just restart it", []podInfo{tpod(0, old)}, 100, preflightPassed, want{pod: "c-0", left: 1, reason: "restarting c-0"}},

		// Preflight before the first member.
		{"first restart: check the template first, on the next pod's node", []podInfo{tpod(0, old), tpod(1, old), tpod(2, old)}, 100, preflightNone, want{preflight: "c-2", left: 3, reason: "checking the new spec"}},
		{"check running: wait", []podInfo{tpod(0, old), tpod(1, old), tpod(2, old)}, 100, preflightRunning, want{preflight: "c-2", left: 3, reason: "checking the new spec"}},
		{"check refused: blocked, nobody restarted", []podInfo{tpod(0, old), tpod(1, old), tpod(2, old)}, 100, preflightRefused, want{blocked: true, left: 3, reason: "preflight"}},
		{"check refused, but a ready pod runs the template: go on", []podInfo{tpod(0, old), tpod(1, old), tpod(2, 0)}, 100, preflightRefused, want{pod: "c-1", left: 2, reason: "restarting c-1"}},
		{"single member: checked first too", []podInfo{tpod(0, old)}, 100, preflightNone, want{preflight: "c-0", left: 1}},
		{"check passed, first restart under way (terminating)", []podInfo{tpod(0, old), tpod(1, old), tpod(2, old|term)}, 100, preflightPassed, want{left: 3, reason: "waiting for pod c-2"}},
		{"check passed, first pod gone and recreated, starting", []podInfo{tpod(0, old), tpod(1, old), tpod(2, notReady|unhealthy)}, 100, preflightPassed, want{left: 2, reason: "waiting for pod c-2"}},

		// A bad change: the first restarted member does not come back.
		{"restarted member not ready yet: wait", []podInfo{tpod(0, old), tpod(1, old), tpod(2, broken|unhealthy)}, 100, preflightPassed, want{left: 2, reason: "waiting for pod c-2"}},
		{"restarted member past the deadline: stuck", []podInfo{tpod(0, old), tpod(1, old), tpod(2, broken|overdue|unhealthy)}, 100, preflightPassed, want{stuck: "c-2", left: 2, reason: "did not become ready in time"}},
		{"past the deadline though not known broken: stuck", []podInfo{tpod(0, old), tpod(1, old), tpod(2, overdue|unhealthy)}, 100, preflightPassed, want{stuck: "c-2", left: 2}},
		{"stuck, the old members stay untouched even if one is unhealthy", []podInfo{tpod(0, old|unhealthy), tpod(1, old), tpod(2, broken|overdue|unhealthy)}, 100, preflightPassed, want{stuck: "c-2", left: 2}},

		// The spec reverted: the broken member runs an outdated template.
		{"reverted: the broken member is replaced at once", []podInfo{tpod(0, 0), tpod(1, 0), tpod(2, old|broken|overdue|unhealthy)}, 100, preflightNone, want{pod: "c-2", replace: true, left: 1, reason: "replacing c-2 at once"}},
		{"reverted before the deadline: replaced at once too", []podInfo{tpod(0, 0), tpod(1, 0), tpod(2, old|broken|unhealthy)}, 100, preflightNone, want{pod: "c-2", replace: true, left: 1}},
		{"reverted while the member still starts (not known broken): wait", []podInfo{tpod(0, 0), tpod(1, 0), tpod(2, old|notReady|unhealthy)}, 100, preflightNone, want{left: 1, reason: "waiting for pod c-2"}},
		{"reverted, broken member being replaced (terminating): wait", []podInfo{tpod(0, 0), tpod(1, 0), tpod(2, old|term|broken|unhealthy)}, 100, preflightNone, want{left: 1, reason: "waiting for pod c-2"}},
		{"reverted, replaced member starting with the current template", []podInfo{tpod(0, 0), tpod(1, 0), tpod(2, notReady|unhealthy)}, 100, preflightNone, want{}},
		{"reverted, the broken pod names no member in the list: replaced", []podInfo{tpod(0, 0), tpod(1, 0), tpod(2, old|broken|noMember)}, 100, preflightNone, want{pod: "c-2", replace: true, left: 1}},
		{"fixed forward: broken member first, no check needed for it", []podInfo{tpod(0, old), tpod(1, old), tpod(2, old|broken|overdue|unhealthy)}, 100, preflightNone, want{pod: "c-2", replace: true, left: 3}},
		{"fixed forward, broken member replaced and starting: wait", []podInfo{tpod(0, old), tpod(1, old), tpod(2, notReady|unhealthy)}, 100, preflightNone, want{left: 2, reason: "waiting for pod c-2"}},
		{"fixed forward, broken member healed: check before the healthy ones", []podInfo{tpod(0, old), tpod(1, old), tpod(2, 0)}, 100, preflightNone, want{pod: "c-1", left: 2}},
		{"two broken outdated members: highest ordinal first", []podInfo{tpod(0, 0), tpod(1, old|broken|unhealthy), tpod(2, old|broken|unhealthy)}, 100, preflightNone, want{pod: "c-2", replace: true, left: 2}},
		{"broken outdated and stuck updated: replace first", []podInfo{tpod(0, 0), tpod(1, old|broken|unhealthy), tpod(2, broken|overdue|unhealthy)}, 100, preflightNone, want{pod: "c-1", replace: true, left: 1}},
		{"broken learner: replaced", []podInfo{tpod(0, 0), tpod(1, 0), tpod(2, old|broken|learner)}, 100, preflightNone, want{pod: "c-2", replace: true, left: 1}},

		{"single member reverted, etcd unreachable: replaced", []podInfo{tpod(0, old|broken|unhealthy)}, 0, preflightNone, want{pod: "c-0", replace: true, left: 1}},
		{"quorum lost to a bad change, reverted: one broken member at a time", []podInfo{tpod(0, 0), tpod(1, old|broken|unhealthy), tpod(2, old|broken|unhealthy)}, 0, preflightNone, want{pod: "c-2", replace: true, left: 2}},
		{"quorum lost, the outdated members merely starting: wait", []podInfo{tpod(0, unhealthy), tpod(1, old|notReady|unhealthy), tpod(2, old|notReady|unhealthy)}, 0, preflightPassed, want{left: 2, reason: "waiting for pod c-1"}},

		// minReadySeconds: a restarted member must stay ready before the next.
		{"restarted member ready, settling: wait", []podInfo{tpod(0, old), tpod(1, old), {Name: "c-2", Ordinal: 2, Ready: true, Settling: true, MemberID: 102, Healthy: true, Voter: true}}, 100, preflightPassed, want{left: 2, reason: "stay ready"}},
		{"restarted member crashed while settling, past the deadline: stuck", []podInfo{tpod(0, old), tpod(1, old), {Name: "c-2", Ordinal: 2, Ready: true, Settling: true, Overdue: true, MemberID: 102, Healthy: true, Voter: true}}, 100, preflightPassed, want{stuck: "c-2", left: 2}},
		{"reverted while the crashed member settles: restarted normally", []podInfo{tpod(0, 0), tpod(1, 0), {Name: "c-2", Ordinal: 2, Outdated: true, Ready: true, MemberID: 102, Healthy: true, Voter: true}}, 100, preflightNone, want{pod: "c-2", left: 1}},

		// Never a healthy member while quorum depends on it.
		{"broken pod of a healthy voter, a spare healthy voter: replaced", []podInfo{tpod(0, 0), tpod(1, 0), tpod(2, old|broken)}, 100, preflightNone, want{pod: "c-2", replace: true, left: 1}},
		{"broken pod of a healthy voter at quorum: kept", []podInfo{tpod(0, 0), tpod(1, notReady|unhealthy), tpod(2, old|broken)}, 100, preflightNone, want{left: 1, reason: "waiting for pod c-1"}},
		{"at quorum: the unhealthy broken one is replaced, the healthy one kept", []podInfo{tpod(0, old|broken), tpod(1, 0), tpod(2, old|broken|unhealthy)}, 100, preflightNone, want{pod: "c-2", replace: true, left: 2}},
		{"at quorum, the healthy broken member has the highest ordinal: the other goes", []podInfo{tpod(0, 0), tpod(1, old|broken|unhealthy), tpod(2, old|broken)}, 100, preflightNone, want{pod: "c-1", replace: true, left: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := rolloutInput{Pods: tc.pods, Leader: tc.leader, Preflight: tc.preflight, AllHealthy: true}
			for _, p := range tc.pods {
				if p.Voter {
					in.Voters++
				}
				in.AllHealthy = in.AllHealthy && p.Healthy
			}
			got := planRollout(in)
			w := tc.want
			if got.Pod != w.pod || got.Replace != w.replace || got.MoveTo != w.move || got.Preflight != w.preflight ||
				got.Blocked != w.blocked || got.Stuck != w.stuck || got.Outdated != w.left || !strings.Contains(got.Reason, w.reason) {
				t.Errorf("got %+v\nwant %+v", got, w)
			}
		})
	}
}
