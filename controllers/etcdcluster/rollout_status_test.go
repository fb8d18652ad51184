package etcdcluster

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/render"
)

func TestSetStatusRolloutHalt(t *testing.T) {
	for _, reason := range []string{etcdv1.ReasonRolloutStuck, etcdv1.ReasonRolloutBlocked} {
		t.Run(reason, func(t *testing.T) {
			c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", Generation: 2}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
			p := &pass{cluster: c, boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(3), outdated: 2,
				obs: observation{contacted: true, leader: 1, voters: 3, members: []etcdv1.MemberStatus{
					member("a", etcdv1.RoleLeader, true), member("b", etcdv1.RoleFollower, true), member("c", etcdv1.RoleFollower, false)}},
				rolloutHalt: &rolloutHalt{Reason: reason, Message: "what is wrong; what happens next"}}
			setStatus(c, p, render.Options{}, nil)
			prog := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionProgressing)
			if prog == nil || prog.Status != metav1.ConditionFalse || prog.Reason != reason || prog.Message != "what is wrong; what happens next" {
				t.Errorf("Progressing %+v, want False %s", prog, reason)
			}
			if d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded); d == nil || d.Status != metav1.ConditionTrue || d.Reason != reason {
				t.Errorf("Degraded %+v, want True %s", d, reason)
			}
			if !meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable) {
				t.Error("a halted rollout of a quorate cluster is still Available")
			}
		})
	}
}

// rolloutPods reads the pods' state against the update revision, the
// member list and the progress deadline, on the reconciler's clock.
func TestRolloutPods(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}}
	c.Spec.Rollout.ProgressDeadlineSeconds = ptr.To[int32](60)
	c.Spec.Rollout.MinReadySeconds = ptr.To[int32](0) // TestRolloutPodsMinReady* cover settling
	mk := func(name, rev string, age time.Duration, ready bool, st corev1.ContainerState, last corev1.ContainerState) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age)),
			Labels: map[string]string{appsv1.ControllerRevisionHashLabelKey: rev}}}
		cond := corev1.ConditionFalse
		if ready {
			cond = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "etcd", State: st, LastTerminationState: last, RestartCount: 2}}
		return p
	}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	crash := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	oom := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}
	items := []corev1.Pod{
		mk("db-0", "db-r0", time.Hour, true, running, corev1.ContainerState{}),
		mk("db-1", "db-r1", 30*time.Second, false, running, corev1.ContainerState{}),
		mk("db-2", "db-r1", 2*time.Minute, false, crash, oom),
		mk("other-0", "db-r0", time.Hour, true, running, corev1.ContainerState{}),
	}
	// db-1 is old, but stopped being ready only 30s ago: not overdue.
	items[1].CreationTimestamp = metav1.NewTime(now.Add(-time.Hour))
	items[1].Status.Conditions[0].LastTransitionTime = metav1.NewTime(now.Add(-30 * time.Second))
	p := &pass{cluster: c, obs: observation{
		list:     []etcdclient.Member{{ID: 10, Name: "db-0"}, {ID: 11, Name: "db-1"}, {ID: 12, Name: "db-2", IsLearner: true}},
		statuses: map[uint64]etcdclient.Status{10: {}},
	}}
	r := &Reconciler{Clock: func() time.Time { return now }}
	pods, byName := r.rolloutPods(p, items, "db-r1")
	if len(pods) != 3 || byName["other-0"] != nil {
		t.Fatalf("pods %+v: want the three members only", pods)
	}
	want := []podInfo{
		{Name: "db-0", Ordinal: 0, Outdated: true, Ready: true, Revision: "db-r0", MemberID: 10, Healthy: true, Voter: true},
		{Name: "db-1", Ordinal: 1, Revision: "db-r1", MemberID: 11, Voter: true},
		{Name: "db-2", Ordinal: 2, Broken: true, Overdue: true, Revision: "db-r1", MemberID: 12},
	}
	for i := range want {
		if pods[i] != want[i] {
			t.Errorf("pod %d: got %+v\nwant %+v", i, pods[i], want[i])
		}
	}
	if byName["db-2"] != &items[2] {
		t.Error("byName does not point at the listed pod, which the step deletes by UID")
	}
}

// With minReadySeconds, a restarted member that keeps crashing between
// short ready spells is stuck once the deadline passes, and the cause is
// how its container last exited.
func TestRolloutPodsMinReady(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}}
	c.Spec.Rollout.ProgressDeadlineSeconds = ptr.To[int32](60)
	c.Spec.Rollout.MinReadySeconds = ptr.To[int32](120)
	pod := func(name string, age, readyFor time.Duration, restarts int32) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age)),
			Labels: map[string]string{appsv1.ControllerRevisionHashLabelKey: "db-r1"}}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-readyFor))}}
		cs := corev1.ContainerStatus{Name: "etcd", RestartCount: restarts, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
		if restarts > 0 {
			cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137, FinishedAt: metav1.NewTime(now.Add(-readyFor - 5*time.Second))}
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
		return p
	}
	items := []corev1.Pod{
		pod("db-0", 30*time.Second, 20*time.Second, 0), // settling, within the deadline
		pod("db-1", 90*time.Second, 10*time.Second, 1), // crashed, past the deadline, not settled: stuck
		pod("db-2", time.Hour, time.Hour, 0),           // settled long ago
	}
	r := &Reconciler{Clock: func() time.Time { return now }}
	pods, byName := r.rolloutPods(&pass{cluster: c}, items, "db-r1")
	got := [][2]bool{}
	for _, p := range pods {
		got = append(got, [2]bool{p.Settling, p.Overdue})
	}
	want := [][2]bool{{true, false}, {true, true}, {false, false}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: settling, overdue = %v, want %v", pods[i].Name, got[i], want[i])
		}
	}
	if msg := stuckCause(byName["db-1"]); !strings.Contains(msg, "OOMKilled") {
		t.Errorf("cause %q, want the OOM kill", msg)
	}
}

// Unset, minReadySeconds is 30: a member ready for 20 s after its restart
// still settles (an OOM kill about 20 s after start stops the rollout at
// it), one ready for 40 s has settled.
func TestRolloutPodsMinReadyDefault(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}}
	pod := func(name string, readyFor time.Duration) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-readyFor - 5*time.Second)),
			Labels: map[string]string{appsv1.ControllerRevisionHashLabelKey: "db-r1"}}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-readyFor))}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "etcd", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		return p
	}
	r := &Reconciler{Clock: func() time.Time { return now }}
	pods, _ := r.rolloutPods(&pass{cluster: c}, []corev1.Pod{pod("db-0", 20*time.Second), pod("db-1", 40*time.Second)}, "db-r1")
	if !pods[0].Settling || pods[1].Settling {
		t.Errorf("settling = %v, %v; want true, false", pods[0].Settling, pods[1].Settling)
	}
}
