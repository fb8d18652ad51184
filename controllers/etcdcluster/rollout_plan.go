package etcdcluster

import (
	"fmt"
	"sort"

	"quorum.dev/etcd-operator/controllers/membership"
)

// rolloutStep is the next move of a rolling restart.
type rolloutStep struct {
	// Pod to delete (its StatefulSet recreates it from the new template);
	// empty when nothing is to be deleted this pass.
	Pod string
	// Replace: Pod is broken (outdated and stuck not ready) and is
	// restarted without waiting for the other pods or for a preflight.
	Replace bool
	// MoveTo: hand leadership to this member ID first (the pod to restart
	// next leads).
	MoveTo uint64
	// Preflight: the new template must pass its preflight check before
	// this pod (the next one to restart) is; the check runs on its node.
	Preflight string
	// Blocked: the preflight check refused the new template; no member is
	// restarted.
	Blocked bool
	// Stuck: this pod, restarted with the new template, is not ready past
	// the progress deadline; the rollout is halted.
	Stuck string
	// Outdated pods left, including Pod.
	Outdated int
	Reason   string
}

// podInfo is what planRollout needs to know of a member pod.
type podInfo struct {
	Name     string
	Ordinal  int
	Outdated bool // its controller-revision-hash is not the StatefulSet's update revision
	Ready    bool // Ready condition true and not being deleted
	// Terminating: being deleted (a restart under way).
	Terminating bool
	// Broken: not ready for a reason that waiting does not cure (podcause:
	// image pull, crash loop, OOM kill, no node).
	Broken bool
	// Overdue: not ready for longer than the progress deadline (since it
	// was created, or since it was last ready), or, restarted with the new
	// template, its container exited and it has not stayed ready for
	// minReadySeconds by the deadline.
	Overdue bool
	// Settling: runs the update revision and has been ready for less than
	// minReadySeconds.
	Settling bool
	// Revision: its controller-revision-hash (the name of the
	// StatefulSet's ControllerRevision it was made from).
	Revision string
	MemberID uint64 // 0 if unknown
	Healthy  bool   // its member answered a status request this pass
	Voter    bool   // its member is a voting member
}

// preflightState is what is known of the preflight check of the update
// revision's pod template.
type preflightState int

const (
	// preflightNone: no check exists yet.
	preflightNone preflightState = iota
	// preflightRunning: the check runs.
	preflightRunning
	// preflightPassed: the bundled server accepted the configuration.
	preflightPassed
	// preflightRefused: the server refused it, or its image cannot be
	// pulled or started.
	preflightRefused
)

// rolloutInput is the observed state planRollout decides from.
type rolloutInput struct {
	Pods       []podInfo
	Leader     uint64
	Voters     int  // voting members in the member list
	AllHealthy bool // every member answered a status request
	Preflight  preflightState
}

// healthyVoters counts the pods whose member is a healthy voter.
func (in rolloutInput) healthyVoters() int {
	n := 0
	for _, p := range in.Pods {
		if p.Healthy && p.Voter && p.MemberID != 0 {
			n++
		}
	}
	return n
}

// planRollout chooses the next move of a rolling restart. Pure. In order:
//
//  1. nothing outdated: nothing to do;
//  2. a broken outdated pod (runs neither the current template nor a
//     healthy old one) is replaced at once, without waiting for the other
//     pods, unless its member is a healthy voter that quorum depends on
//     (healthy voters at quorum): a revert or a fix heals a member that
//     the previous change broke;
//  3. a pod runs the new template and is not ready past the deadline: the
//     rollout is stuck, nothing else is restarted;
//  4. otherwise health-gated, one at a time: nothing while a pod is not
//     ready or a member unhealthy;
//  5. before the first member is restarted with a template no ready pod
//     runs yet, the template must pass its preflight check (a refused
//     one blocks the rollout);
//  6. followers first, highest ordinal first; the leader last, after its
//     leadership has moved to an updated healthy voter.
func planRollout(in rolloutInput) rolloutStep {
	pods := in.Pods
	outdatedN := countOutdated(pods)
	if outdatedN == 0 {
		return rolloutStep{}
	}
	if p, ok := brokenToReplace(in); ok {
		return rolloutStep{Pod: p.Name, Replace: true, Outdated: outdatedN,
			Reason: fmt.Sprintf("replacing %s at once: it runs an old spec and cannot become ready", p.Name)}
	}
	for _, p := range pods {
		if !p.Outdated && p.Overdue {
			return rolloutStep{Stuck: p.Name, Outdated: outdatedN,
				Reason: fmt.Sprintf("%s, restarted with the new spec, did not become ready in time", p.Name)}
		}
	}
	var outdated []podInfo
	proven := false // a ready pod runs the update revision
	for _, p := range pods {
		if !p.Ready {
			return rolloutStep{Outdated: outdatedN, Reason: fmt.Sprintf("waiting for pod %s to be ready", p.Name)}
		}
		if p.Outdated {
			outdated = append(outdated, p)
		} else {
			proven = true
		}
	}
	for _, p := range pods {
		if !p.Outdated && p.Settling {
			return rolloutStep{Outdated: outdatedN, Reason: fmt.Sprintf("waiting for %s to stay ready for spec.rollout.minReadySeconds", p.Name)}
		}
	}
	if !in.AllHealthy {
		return rolloutStep{Outdated: outdatedN, Reason: "waiting for every member to be healthy before restarting the next one"}
	}
	restartOrder(outdated, in.Leader)
	next := outdated[0]
	if !proven {
		switch in.Preflight {
		case preflightRefused:
			return rolloutStep{Blocked: true, Outdated: outdatedN, Reason: "the new spec failed its preflight check"}
		case preflightNone, preflightRunning:
			return rolloutStep{Preflight: next.Name, Outdated: outdatedN,
				Reason: fmt.Sprintf("checking the new spec on the node of %s before restarting any member", next.Name)}
		}
	}
	if next.MemberID != in.Leader || in.Leader == 0 || len(pods) == 1 {
		return rolloutStep{Pod: next.Name, Outdated: outdatedN, Reason: fmt.Sprintf("restarting %s with the new spec (%d left)", next.Name, outdatedN)}
	}
	// The leader is the last one: move leadership to an updated voter.
	for _, p := range pods {
		if !p.Outdated && p.MemberID != 0 && p.Healthy && p.Voter {
			return rolloutStep{MoveTo: p.MemberID, Outdated: outdatedN, Reason: fmt.Sprintf("moving leadership away from %s before restarting it", next.Name)}
		}
	}
	return rolloutStep{Pod: next.Name, Outdated: outdatedN, Reason: fmt.Sprintf("restarting leader %s: no updated voter to take over", next.Name)}
}

// brokenToReplace is the broken outdated pod to replace first, if any: one
// whose member is not a healthy voter, else a healthy voter only when the
// other healthy voters still make a quorum. Highest ordinal first.
func brokenToReplace(in rolloutInput) (podInfo, bool) {
	var broken []podInfo
	for _, p := range in.Pods {
		if p.Outdated && p.Broken && !p.Ready && !p.Terminating {
			broken = append(broken, p)
		}
	}
	sort.Slice(broken, func(i, j int) bool { return broken[i].Ordinal > broken[j].Ordinal })
	spare := in.healthyVoters() - membership.Quorum(in.Voters)
	for _, p := range broken {
		if !(p.Healthy && p.Voter && p.MemberID != 0) || spare > 0 {
			return p, true
		}
	}
	return podInfo{}, false
}

// restartOrder sorts pods in the order they are restarted: followers
// before the leader, then highest ordinal first.
func restartOrder(pods []podInfo, leader uint64) {
	sort.SliceStable(pods, func(i, j int) bool {
		li, lj := pods[i].MemberID == leader, pods[j].MemberID == leader
		if li != lj {
			return lj
		}
		return pods[i].Ordinal > pods[j].Ordinal
	})
}

// firstToRestart names the member pod a change of every pod would restart
// first (see restartOrder), not counting pods being deleted; "" when there
// is none. Pure.
func firstToRestart(pods []podInfo, leader uint64) string {
	var live []podInfo
	for _, p := range pods {
		if !p.Terminating {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return ""
	}
	restartOrder(live, leader)
	return live[0].Name
}

func countOutdated(pods []podInfo) int {
	n := 0
	for _, p := range pods {
		if p.Outdated {
			n++
		}
	}
	return n
}
