package etcdcluster

import (
	"strings"
	"testing"

	"quorum.dev/etcd-operator/controllers/render"
)

func TestPlanRevision(t *testing.T) {
	rev := func(image, hash, cm string) render.Revision {
		return render.Revision{Image: image, ConfigHash: hash, OptionsConfigMap: cm}
	}
	running := rev("etcd:3.7.3", "aaaa", "db-options-aaaa")
	legacy := rev("etcd:3.7.3", "aaaa", "db-config")
	badOption := rev("etcd:3.7.3", "bbbb", "db-options-bbbb")
	badImage := rev("etcd:3.7.99", "aaaa", "db-options-aaaa")
	cases := []struct {
		name      string
		in        revisionInput
		apply     render.Revision
		held      bool
		reasonHas string
	}{
		{"a new cluster starts with the spec", revisionInput{Desired: badOption}, badOption, false, "no member"},
		{"nothing changed", revisionInput{Desired: running, Live: &running}, running, false, "runs the spec's"},
		{"a revert is back to the running revision: nothing to check", revisionInput{Desired: running, Live: &running, Preflight: preflightRefused}, running, false, "runs the spec's"},
		{"an upgraded operator keeps the options where the members read them", revisionInput{Desired: running, Live: &legacy}, legacy, false, "runs the spec's"},
		{"a changed option waits for its check", revisionInput{Desired: badOption, Live: &running}, running, true, "wait"},
		{"a changed option whose check runs is held", revisionInput{Desired: badOption, Live: &running, Preflight: preflightRunning}, running, true, "wait"},
		{"a refused option is held", revisionInput{Desired: badOption, Live: &running, Preflight: preflightRefused}, running, true, "failed"},
		{"a refused image is held, legacy options kept", revisionInput{Desired: badImage, Live: &legacy, Preflight: preflightRefused}, legacy, true, "failed"},
		{"a passed check writes the change", revisionInput{Desired: badOption, Live: &running, Preflight: preflightPassed}, badOption, false, "passed"},
		{"a revert during a rollout: a ready member runs it", revisionInput{Desired: running, Live: &badOption, Proven: true}, running, false, "ready member"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			apply, held, why := planRevision(tc.in)
			if apply != tc.apply || held != tc.held || !strings.Contains(why, tc.reasonHas) {
				t.Errorf("got %+v held=%t %q; want %+v held=%t %q", apply, held, why, tc.apply, tc.held, tc.reasonHas)
			}
		})
	}
}

func TestFirstToRestart(t *testing.T) {
	cases := []struct {
		name   string
		pods   []podInfo
		leader uint64
		want   string
	}{
		{"no pods", nil, 0, ""},
		{"highest ordinal follower", []podInfo{tpod(0, 0), tpod(1, 0), tpod(2, 0)}, 102, "c-1"},
		{"the leader last", []podInfo{tpod(0, 0), tpod(1, 0)}, 101, "c-0"},
		{"not a pod being deleted", []podInfo{tpod(0, 0), tpod(1, 0), tpod(2, term)}, 100, "c-1"},
		{"one pod, leading", []podInfo{tpod(0, 0)}, 100, "c-0"},
	}
	for _, tc := range cases {
		if got := firstToRestart(tc.pods, tc.leader); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
