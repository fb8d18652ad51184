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
