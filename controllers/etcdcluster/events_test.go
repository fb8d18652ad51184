package etcdcluster

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/membership"
	"quorum.dev/etcd-operator/controllers/render"
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

// A member that crash-loops goes round CrashLoopBackOff, running (not
// ready) and exited, as the kubelet restarts it: Degraded stays True with
// one reason through the whole loop, and one Warning is recorded, not one
// per restart.
func TestCrashLoopDegradedDoesNotFlap(t *testing.T) {
	lastExit := &corev1.ContainerStateTerminated{ExitCode: 1, Message: "quorum-etcd: etcdOptions: unknown key \"snapshot-cnt\""}
	loop := func(name string, restarts int32, state corev1.ContainerState) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "etcd", RestartCount: restarts, State: state,
				LastTerminationState: corev1.ContainerState{Terminated: lastExit}}}}}
	}
	backOff := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	exited := corev1.ContainerState{Terminated: lastExit}
	cycle := []struct {
		restarts int32
		state    corev1.ContainerState
	}{{2, backOff}, {3, running}, {3, exited}, {3, backOff}, {4, running}, {4, backOff}}

	for _, tc := range []struct {
		name     string
		replicas int32
		crashing string // the pod that crash-loops
		pass     func(crashing corev1.Pod) pass
	}{
		{"a member of a formed cluster", 3, "x-2", func(crashing corev1.Pod) pass {
			return pass{boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: stsOf(3, 2, 3),
				pods:       []corev1.Pod{readyPod("x-0"), readyPod("x-1"), crashing},
				membership: &membership.Action{Kind: membership.None},
				obs:        observation{contacted: true, leader: 1, voters: 3, members: append(voters("x-0", "x-1"), member("x-2", etcdv1.RoleFollower, false))}}
		}},
		{"the member of a new cluster", 1, "x-0", func(crashing corev1.Pod) pass {
			return pass{boot: render.Bootstrap{State: render.StateNew}, stsReplicas: 1, sts: stsOf(1, 0, 1), pods: []corev1.Pod{crashing}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := events.NewFakeRecorder(20)
			r := &Reconciler{Recorder: rec}
			c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", Generation: 1}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To(tc.replicas)}}
			for _, step := range cycle {
				before := c.DeepCopy()
				p := tc.pass(loop(tc.crashing, step.restarts, step.state))
				p.cluster = c
				setStatus(c, &p, render.Options{}, nil)
				d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
				if d.Status != metav1.ConditionTrue || d.Reason != etcdv1.ReasonMemberPodsFailing || !strings.Contains(d.Message, "snapshot-cnt") {
					t.Errorf("restarts %d, state %+v: Degraded %s %s: %s", step.restarts, step.state, d.Status, d.Reason, d.Message)
				}
				r.recordTransitions(before, c)
			}
			var warnings []string
			for _, e := range drain(rec) {
				if strings.HasPrefix(e, corev1.EventTypeWarning+" "+etcdv1.ReasonMemberPodsFailing) {
					warnings = append(warnings, e)
				} else if strings.HasPrefix(e, corev1.EventTypeWarning) {
					t.Errorf("unexpected warning %q", e)
				}
			}
			if len(warnings) != 1 {
				t.Fatalf("%d MemberPodsFailing warnings through the loop, want 1: %q", len(warnings), warnings)
			}
		})
	}
}
