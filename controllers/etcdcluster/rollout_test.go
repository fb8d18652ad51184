package etcdcluster

import (
	"strings"
	"testing"
)

func TestPlanRollout(t *testing.T) {
	pod := func(o int, outdated, ready bool) podInfo {
		return podInfo{Name: "c-" + string(rune('0'+o)), Ordinal: o, Outdated: outdated, Ready: ready, MemberID: uint64(100 + o)}
	}
	all := map[uint64]bool{100: true, 101: true, 102: true}
	cases := []struct {
		name       string
		pods       []podInfo
		leader     uint64
		allHealthy bool
		wantPod    string
		wantMove   uint64
		wantLeft   int
		reason     string
	}{
		{"nothing outdated", []podInfo{pod(0, false, true), pod(1, false, true), pod(2, false, true)}, 100, true, "", 0, 0, ""},
		{"followers first, highest ordinal first", []podInfo{pod(0, true, true), pod(1, true, true), pod(2, true, true)}, 102, true, "c-1", 0, 3, "restarting c-1"},
		{"leader 0 is kept for last", []podInfo{pod(0, true, true), pod(1, true, true), pod(2, false, true)}, 100, true, "c-1", 0, 2, "restarting c-1"},
		{"only the leader left: move leadership first", []podInfo{pod(0, true, true), pod(1, false, true), pod(2, false, true)}, 100, true, "", 101, 1, "moving leadership away from c-0"},
		{"leadership moved: restart the old leader", []podInfo{pod(0, true, true), pod(1, false, true), pod(2, false, true)}, 101, true, "c-0", 0, 1, "restarting c-0"},
		{"a pod not ready: wait", []podInfo{pod(0, true, true), pod(1, false, false), pod(2, true, true)}, 100, true, "", 0, 2, "waiting for pod c-1"},
		{"a member unhealthy: wait", []podInfo{pod(0, true, true), pod(1, true, true), pod(2, true, true)}, 100, false, "", 0, 3, "every member to be healthy"},
		{"a restarted pod terminating (not ready): wait", []podInfo{pod(0, true, true), pod(1, true, false), pod(2, true, true)}, 100, true, "", 0, 3, "waiting for pod c-1"},
		{"single member: just restart it", []podInfo{pod(0, true, true)}, 100, true, "c-0", 0, 1, "restarting c-0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := planRollout(tc.pods, tc.leader, all, tc.allHealthy)
			if got.Pod != tc.wantPod || got.MoveTo != tc.wantMove || got.Outdated != tc.wantLeft || !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("got %+v, want pod %q move %d left %d reason ~%q", got, tc.wantPod, tc.wantMove, tc.wantLeft, tc.reason)
			}
		})
	}
}
