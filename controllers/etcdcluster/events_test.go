package etcdcluster

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func withConditions(conds ...metav1.Condition) *etcdv1.EtcdCluster {
	return &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}, Status: etcdv1.EtcdClusterStatus{Conditions: conds}}
}

func drain(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestTransitionsAnnouncedOnce(t *testing.T) {
	rec := events.NewFakeRecorder(10)
	r := &Reconciler{Recorder: rec}
	booting := withConditions(metav1.Condition{Type: etcdv1.ConditionAvailable, Status: metav1.ConditionFalse, Reason: etcdv1.ReasonBootstrapping})
	formed := withConditions(metav1.Condition{Type: etcdv1.ConditionAvailable, Status: metav1.ConditionTrue, Reason: etcdv1.ReasonQuorumHealthy})

	r.recordTransitions(booting, formed)
	// The next pass reads the cluster from a cache that has not seen the
	// status patch yet: the same transition again.
	r.recordTransitions(booting, formed)
	r.recordTransitions(formed, formed)
	if got := drain(rec); len(got) != 1 {
		t.Fatalf("formation announced %d times: %q", len(got), got)
	}

	// A real flap is announced each way.
	lost := withConditions(metav1.Condition{Type: etcdv1.ConditionAvailable, Status: metav1.ConditionFalse, Reason: etcdv1.ReasonQuorumLost})
	r.recordTransitions(formed, lost)
	r.recordTransitions(lost, formed)
	if got := drain(rec); len(got) != 2 {
		t.Fatalf("flap announced %d times: %q", len(got), got)
	}

	// Available's reason changing without its status is no news.
	unreachable := withConditions(metav1.Condition{Type: etcdv1.ConditionAvailable, Status: metav1.ConditionFalse, Reason: etcdv1.ReasonUnreachable})
	r.recordTransitions(formed, lost)
	r.recordTransitions(lost, unreachable)
	r.recordTransitions(unreachable, formed)
	if got := drain(rec); len(got) != 2 {
		t.Fatalf("lost, unreachable, back announced %d times: %q", len(got), got)
	}

	// Degraded: once per reason, not per message.
	d := func(reason, msg string) *etcdv1.EtcdCluster {
		return withConditions(metav1.Condition{Type: etcdv1.ConditionDegraded, Status: metav1.ConditionTrue, Reason: reason, Message: msg})
	}
	ok := withConditions(metav1.Condition{Type: etcdv1.ConditionDegraded, Status: metav1.ConditionFalse, Reason: etcdv1.ReasonAllMembersHealthy})
	r.recordTransitions(ok, d(etcdv1.ReasonMemberPodsFailing, "x-0 (1 restarts)"))
	r.recordTransitions(d(etcdv1.ReasonMemberPodsFailing, "x-0 (1 restarts)"), d(etcdv1.ReasonMemberPodsFailing, "x-0 (2 restarts)"))
	if got := drain(rec); len(got) != 1 {
		t.Fatalf("degradation announced %d times: %q", len(got), got)
	}
}

// A defragmentation schedule the controller cannot read (what admission
// cannot check: a range that runs backwards) is announced once, not on
// every pass; fixed and broken again, it is announced again.
func TestInvalidDefragScheduleAnnouncedOnce(t *testing.T) {
	rec := events.NewFakeRecorder(10)
	r := &Reconciler{Recorder: rec, Clock: func() time.Time { return time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC) }}
	c := withConditions()
	passes := func(schedule string, n int) []string {
		c.Spec.Defragmentation = &etcdv1.DefragmentationSpec{Schedule: schedule}
		for range n {
			r.startRounds(context.Background(), c, &etcdv1.DefragmentationStatus{}, &pass{})
		}
		return drain(rec)
	}
	got := passes("0 5-1 * * *", 3)
	if len(got) != 1 || !strings.Contains(got[0], "Warning InvalidSchedule") || !strings.Contains(got[0], "spec.defragmentation") {
		t.Fatalf("3 passes over a bad schedule recorded %q, want one Warning InvalidSchedule", got)
	}
	if got := passes("0 3 * * *", 2); len(got) != 0 {
		t.Fatalf("a good schedule recorded %q", got)
	}
	if got := passes("0 5-1 * * *", 2); len(got) != 1 {
		t.Fatalf("the schedule broken again recorded %q, want one event", got)
	}
	if got := passes("0 6-2 * * *", 1); len(got) != 1 {
		t.Fatalf("another bad schedule recorded %q, want one event", got)
	}
}
