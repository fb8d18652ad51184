package etcdcluster

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/membership"
)

func TestNextPass(t *testing.T) {
	withConditions := func(available, progressing bool) *etcdv1.EtcdCluster {
		c := &etcdv1.EtcdCluster{}
		set := func(t string, v bool) {
			st := metav1.ConditionFalse
			if v {
				st = metav1.ConditionTrue
			}
			meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: t, Status: st, Reason: "R"})
		}
		set(etcdv1.ConditionAvailable, available)
		set(etcdv1.ConditionProgressing, progressing)
		return c
	}
	boom := errors.New("boom")
	cases := []struct {
		name    string
		p       pass
		c       *etcdv1.EtcdCluster
		err     error
		after   time.Duration
		wantErr bool
	}{
		{"healthy and idle", pass{}, withConditions(true, false), nil, requeueHealthy, false},
		{"settling", pass{}, withConditions(true, true), nil, requeueSettling, false},
		{"not available", pass{}, withConditions(false, false), nil, requeueSettling, false},
		{"a membership change was made (scaling)", pass{membershipSoon: true}, withConditions(true, true), nil, requeueMembership, false},
		{"maintenance busy wins over membership", pass{maintBusy: true, membershipSoon: true}, withConditions(true, true), nil, requeueSettling, false},
		{"spec error", pass{membershipSoon: true}, withConditions(true, true), &specError{"R", "m"}, requeueSpecError, false},
		{"planned wait", pass{}, withConditions(true, true), fmt.Errorf("x: %w", &waitError{"R", "backup running"}), requeueSettling, false},
		{"error: backoff", pass{membershipSoon: true}, withConditions(true, true), boom, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := nextPass(&tc.p, tc.c, tc.err)
			if (err != nil) != tc.wantErr || res.RequeueAfter != tc.after {
				t.Fatalf("got %v, %v; want after %v, error %v", res.RequeueAfter, err, tc.after, tc.wantErr)
			}
		})
	}
	if requeueMembership >= requeueSettling {
		t.Fatalf("requeueMembership %v must be shorter than requeueSettling %v", requeueMembership, requeueSettling)
	}
}

func TestLookAgainSoon(t *testing.T) {
	cases := []struct {
		after membership.Kind
		err   error
		want  bool
	}{
		{membership.AddLearner, nil, true},
		{membership.PromoteLearner, nil, true},
		{membership.GrowStatefulSet, nil, true},
		{membership.RemoveMember, nil, true},
		{membership.MoveLeader, nil, true},
		{membership.Wait, nil, false}, // claims still being freed: watched
		{membership.PromoteLearner, rpctypes.ErrMemberLearnerNotReady, true},
		{membership.AddLearner, rpctypes.ErrTooManyLearners, true},
		{membership.AddLearner, errors.New("permission denied"), false},
	}
	for _, tc := range cases {
		if got := lookAgainSoon(tc.after, tc.err); got != tc.want {
			t.Errorf("lookAgainSoon(%s, %v) = %v, want %v", tc.after, tc.err, got, tc.want)
		}
	}
}

func TestLearnerStarting(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	pod := func(age time.Duration) membership.Pod { return membership.Pod{Exists: true, Created: now.Add(-age)} }
	snap := func(learner bool, pods map[int]membership.Pod) membership.Snapshot {
		return membership.Snapshot{Members: []membership.Member{{ID: 1}, {ID: 2, IsLearner: learner}}, Pods: pods}
	}
	waitOn := func(o int) membership.Action { return membership.Action{Kind: membership.Wait, Ordinal: o} }
	cases := []struct {
		name   string
		snap   membership.Snapshot
		action membership.Action
		want   bool
	}{
		{"learner's pod created 5 s ago", snap(true, map[int]membership.Pod{0: pod(time.Hour), 1: pod(5 * time.Second)}), waitOn(1), true},
		{"learner's pod is 2 minutes old: stuck, usual pace", snap(true, map[int]membership.Pod{1: pod(2 * time.Minute)}), waitOn(1), false},
		{"learner's pod not created yet (the StatefulSet event brings the pass)", snap(true, map[int]membership.Pod{0: pod(time.Hour)}), waitOn(1), false},
		{"learner's pod being deleted", snap(true, map[int]membership.Pod{1: {Exists: false, Created: now}}), waitOn(1), false},
		{"no learner: a wait on something else", snap(false, map[int]membership.Pod{1: pod(5 * time.Second)}), waitOn(1), false},
		{"not a wait", snap(true, map[int]membership.Pod{1: pod(5 * time.Second)}), membership.Action{Kind: membership.None, Ordinal: 1}, false},
	}
	for _, tc := range cases {
		if got := learnerStarting(tc.snap, tc.action, now); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
