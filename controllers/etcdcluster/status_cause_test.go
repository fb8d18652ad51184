package etcdcluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/membership"
	"quorum.dev/etcd-operator/controllers/render"
)

// Pods as the kubelet reports them.
func readyPod(name string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
}

func waitingPod(name, reason, msg string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: corev1.PodPending,
		ContainerStatuses: []corev1.ContainerStatus{{Name: "etcd", Image: "quorum.dev/etcd-server:3.7.99",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}}}}
}

func crashingPod(name, lastMessage string) corev1.Pod {
	p := waitingPod(name, "CrashLoopBackOff", "back-off restarting failed container")
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses[0].RestartCount = 3
	p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Message: lastMessage}
	return p
}

func startingPod(name string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
}

func stsOf(replicas, ready, updated int32) *appsv1.StatefulSet {
	s := readySTS(replicas)
	s.Status.ReadyReplicas, s.Status.UpdatedReplicas = ready, updated
	return s
}

func voters(names ...string) []etcdv1.MemberStatus {
	var ms []etcdv1.MemberStatus
	for i, n := range names {
		role := etcdv1.RoleFollower
		if i == 0 {
			role = etcdv1.RoleLeader
		}
		ms = append(ms, member(n, role, true))
	}
	return ms
}

func TestStatusNamesTheCause(t *testing.T) {
	existing, fresh := render.Bootstrap{State: render.StateExisting}, render.Bootstrap{State: render.StateNew}
	badOption := "bad configuration: etcd options /etc/quorum/etcd.yaml: cannot unmarshal string into Go struct field configYAML.snapshot-count of type uint64"
	type cond struct {
		status bool
		reason string
		says   string // in the message
	}
	cases := []struct {
		name                             string
		replicas                         int32
		pass                             pass
		stepErr                          error
		available, progressing, degraded cond
		summary                          string
	}{
		{name: "bootstrap with an option etcd rejects", replicas: 3,
			pass:        pass{boot: fresh, stsReplicas: 3, sts: stsOf(3, 0, 3), pods: []corev1.Pod{crashingPod("x-0", badOption), crashingPod("x-1", badOption), crashingPod("x-2", badOption)}},
			available:   cond{false, etcdv1.ReasonBootstrapping, "snapshot-count"},
			progressing: cond{true, etcdv1.ReasonBootstrapping, "3 pods (0 ready), 3 wanted"},
			degraded:    cond{true, etcdv1.ReasonMemberPodsFailing, "x-0, x-1, x-2: container etcd exited with code 1 (3 restarts): " + badOption},
			summary:     etcdv1.ReasonMemberPodsFailing},
		{name: "bootstrap with a version that has no image", replicas: 3,
			pass: pass{boot: fresh, stsReplicas: 3, sts: stsOf(3, 0, 3), pods: []corev1.Pod{
				waitingPod("x-0", "ImagePullBackOff", "Back-off pulling image"), waitingPod("x-1", "ErrImagePull", "not found"), startingPod("x-2")}},
			available:   cond{false, etcdv1.ReasonBootstrapping, "cannot be pulled"},
			progressing: cond{true, etcdv1.ReasonBootstrapping, "cannot be pulled"},
			degraded:    cond{true, etcdv1.ReasonMemberPodsFailing, "image quorum.dev/etcd-server:3.7.99 cannot be pulled"},
			summary:     etcdv1.ReasonMemberPodsFailing},
		{name: "bootstrap still starting is not degraded", replicas: 3,
			pass:        pass{boot: fresh, stsReplicas: 3, sts: stsOf(3, 1, 3), pods: []corev1.Pod{readyPod("x-0"), startingPod("x-1"), startingPod("x-2")}},
			available:   cond{false, etcdv1.ReasonBootstrapping, "x-1, x-2: pending"},
			progressing: cond{true, etcdv1.ReasonBootstrapping, "3 pods (1 ready), 3 wanted"},
			degraded:    cond{false, etcdv1.ReasonBootstrapping, ""},
			summary:     etcdv1.ReasonBootstrapping},
		{name: "scale-up: a new learner that has not started is progress, not degradation", replicas: 5,
			pass: pass{boot: existing, stsReplicas: 4, sts: stsOf(4, 3, 4), pods: []corev1.Pod{readyPod("x-0"), readyPod("x-1"), readyPod("x-2"), startingPod("x-3")},
				membership: &membership.Action{Kind: membership.Wait, Reason: "learner x-3 has not started"},
				obs: observation{contacted: true, leader: 1, voters: 3, members: append(voters("x-0", "x-1", "x-2"),
					etcdv1.MemberStatus{Name: "x-3", ID: "4", Role: etcdv1.RoleLearner, Error: "member has not started"})}},
			available:   cond{true, etcdv1.ReasonQuorumHealthy, "3 of 3"},
			progressing: cond{true, etcdv1.ReasonScalePending, "x-3: pending"},
			degraded:    cond{false, etcdv1.ReasonAllMembersHealthy, ""},
			summary:     etcdv1.ReasonScalePending},
		{name: "scale-up: a learner whose pod is stuck is degraded", replicas: 5,
			pass: pass{boot: existing, stsReplicas: 4, sts: stsOf(4, 3, 4), pods: []corev1.Pod{readyPod("x-0"), readyPod("x-1"), readyPod("x-2"), crashingPod("x-3", "disk full")},
				membership: &membership.Action{Kind: membership.Wait, Reason: "learner x-3 has not started"},
				obs: observation{contacted: true, leader: 1, voters: 3, members: append(voters("x-0", "x-1", "x-2"),
					etcdv1.MemberStatus{Name: "x-3", ID: "4", Role: etcdv1.RoleLearner})}},
			available:   cond{true, etcdv1.ReasonQuorumHealthy, ""},
			progressing: cond{true, etcdv1.ReasonScalePending, ""},
			degraded:    cond{true, etcdv1.ReasonMemberPodsFailing, "disk full"},
			summary:     etcdv1.ReasonMemberPodsFailing},
		{name: "scale-down: a member on its way out is not degraded; counts read against the spec", replicas: 3,
			pass: pass{boot: existing, stsReplicas: 5, sts: stsOf(5, 4, 5), pods: []corev1.Pod{readyPod("x-0"), readyPod("x-1"), readyPod("x-2"), readyPod("x-3"), crashingPod("x-4", "the member has been permanently removed from the cluster")},
				membership: &membership.Action{Kind: membership.ShrinkStatefulSet, Reason: "ordinal 4 has no member: shrinking the StatefulSet from 5 to 4"},
				obs:        observation{contacted: true, leader: 1, voters: 4, members: append(voters("x-0", "x-1", "x-2"), member("x-3", etcdv1.RoleFollower, false))}},
			available:   cond{true, etcdv1.ReasonQuorumHealthy, "3 of 4"},
			progressing: cond{true, etcdv1.ReasonScaling, "shrinking"},
			degraded:    cond{false, etcdv1.ReasonMembersNotReady, "5 pods (4 ready), 3 wanted"},
			summary:     etcdv1.ReasonScaling},
		{name: "scale-down: an error from a member that was just removed is expected", replicas: 3,
			pass: pass{boot: existing, stsReplicas: 5, sts: stsOf(5, 4, 5), pods: []corev1.Pod{readyPod("x-0"), readyPod("x-1"), readyPod("x-2"), readyPod("x-3"), readyPod("x-4")},
				obs: observation{contacted: true, leader: 1, voters: 4, members: voters("x-0", "x-1", "x-2", "x-3")}},
			stepErr:     fmt.Errorf("membership: removing member 3: %w", rpctypes.ErrStopped),
			available:   cond{true, etcdv1.ReasonQuorumHealthy, ""},
			progressing: cond{true, etcdv1.ReasonScalingDown, "server stopped"},
			degraded:    cond{false, etcdv1.ReasonAllMembersHealthy, ""},
			summary:     etcdv1.ReasonScalingDown},
		{name: "the same error outside a scale-down is an error", replicas: 3,
			pass: pass{boot: existing, stsReplicas: 3, sts: stsOf(3, 3, 3), pods: []corev1.Pod{readyPod("x-0"), readyPod("x-1"), readyPod("x-2")},
				obs: observation{contacted: true, leader: 1, voters: 3, members: voters("x-0", "x-1", "x-2")}},
			stepErr:     fmt.Errorf("auth: %w", rpctypes.ErrStopped),
			available:   cond{true, etcdv1.ReasonQuorumHealthy, ""},
			progressing: cond{true, etcdv1.ReasonReconcileError, "server stopped"},
			degraded:    cond{true, etcdv1.ReasonReconcileError, "server stopped"},
			summary:     etcdv1.ReasonReconcileError},
		{name: "rollout: the member being restarted is not degraded", replicas: 3,
			pass: pass{boot: existing, stsReplicas: 3, sts: stsOf(3, 2, 2), outdated: 1, rolloutReason: "waiting for pod x-2 to be ready",
				pods: []corev1.Pod{readyPod("x-0"), readyPod("x-1"), startingPod("x-2")},
				obs:  observation{contacted: true, leader: 1, voters: 3, members: append(voters("x-0", "x-1"), member("x-2", etcdv1.RoleFollower, false))}},
			available:   cond{true, etcdv1.ReasonQuorumHealthy, ""},
			progressing: cond{true, etcdv1.ReasonRollingOut, "x-2: pending"},
			degraded:    cond{false, etcdv1.ReasonMembersNotReady, ""},
			summary:     etcdv1.ReasonRollingOut},
		{name: "rollout to a version without image is degraded with the cause", replicas: 3,
			pass: pass{boot: existing, stsReplicas: 3, sts: stsOf(3, 2, 1), outdated: 2, rolloutReason: "waiting for pod x-2 to be ready",
				pods: []corev1.Pod{readyPod("x-0"), readyPod("x-1"), waitingPod("x-2", "ImagePullBackOff", "not found")},
				obs:  observation{contacted: true, leader: 1, voters: 3, members: append(voters("x-0", "x-1"), member("x-2", etcdv1.RoleFollower, false))}},
			available:   cond{true, etcdv1.ReasonQuorumHealthy, ""},
			progressing: cond{true, etcdv1.ReasonRollingOut, "cannot be pulled"},
			degraded:    cond{true, etcdv1.ReasonMemberPodsFailing, "x-2: container etcd: image"},
			summary:     etcdv1.ReasonMemberPodsFailing},
		{name: "a voter down outside any planned step is degraded, with its pod's state", replicas: 3,
			pass: pass{boot: existing, stsReplicas: 3, sts: stsOf(3, 2, 3), pods: []corev1.Pod{readyPod("x-0"), readyPod("x-1"), startingPod("x-2")},
				membership: &membership.Action{Kind: membership.None},
				obs:        observation{contacted: true, leader: 1, voters: 3, members: append(voters("x-0", "x-1"), member("x-2", etcdv1.RoleFollower, false))}},
			available:   cond{true, etcdv1.ReasonQuorumHealthy, "2 of 3"},
			progressing: cond{true, etcdv1.ReasonMembersNotReady, "3 pods (2 ready), 3 wanted"},
			degraded:    cond{true, etcdv1.ReasonMemberUnhealthy, "x-2 (pending)"},
			summary:     etcdv1.ReasonMemberUnhealthy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", Generation: 1}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To(tc.replicas)}}
			p := tc.pass
			p.cluster = c
			setStatus(c, &p, render.Options{}, tc.stepErr)
			for typ, want := range map[string]cond{etcdv1.ConditionAvailable: tc.available, etcdv1.ConditionProgressing: tc.progressing, etcdv1.ConditionDegraded: tc.degraded} {
				got := meta.FindStatusCondition(c.Status.Conditions, typ)
				if got == nil || (got.Status == metav1.ConditionTrue) != want.status || got.Reason != want.reason || !strings.Contains(got.Message, want.says) {
					t.Errorf("%s: got %+v, want status %v reason %s saying %q", typ, got, want.status, want.reason, want.says)
				}
			}
			for _, cd := range c.Status.Conditions {
				t.Logf("%s=%s %s: %s", cd.Type, cd.Status, cd.Reason, cd.Message)
			}
			if c.Status.Reason != tc.summary {
				t.Errorf("status.reason %q, want %q", c.Status.Reason, tc.summary)
			}
		})
	}
}

func TestSummaryReason(t *testing.T) {
	c := func(t string, ok bool, reason string) metav1.Condition {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		return metav1.Condition{Type: t, Status: s, Reason: reason}
	}
	for _, tc := range []struct {
		conds []metav1.Condition
		want  string
	}{
		{nil, ""},
		{[]metav1.Condition{c("Available", true, "QuorumHealthy"), c("Progressing", false, "Reconciled"), c("Degraded", false, "AllMembersHealthy")}, "QuorumHealthy"},
		{[]metav1.Condition{c("Available", true, "QuorumHealthy"), c("Progressing", true, "Scaling"), c("Degraded", false, "AllMembersHealthy")}, "Scaling"},
		{[]metav1.Condition{c("Available", false, "Bootstrapping"), c("Progressing", true, "Bootstrapping"), c("Degraded", true, "MemberPodsFailing")}, "MemberPodsFailing"},
		{[]metav1.Condition{c("Available", false, "QuorumLost"), c("Progressing", false, "Reconciled"), c("Degraded", false, "MembersNotReady")}, "QuorumLost"},
	} {
		if got := summaryReason(tc.conds); got != tc.want {
			t.Errorf("summaryReason(%v) = %q, want %q", tc.conds, got, tc.want)
		}
	}
}

// A pass that stopped before observing the members (a certificate step
// that failed, say) still counts the ready member pods: the list view must
// not show a member that went down meanwhile as ready (fresh tester: 3 of
// 3 ready while a pod waited for a deleted Secret). What was last seen of
// the members otherwise stands, and Degraded names the failure.
func TestReadyReplicasAfterAnEarlyFailure(t *testing.T) {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", Generation: 1}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
	c.Status.ReadyReplicas = 3
	p := pass{cluster: c, podsListed: true, pods: []corev1.Pod{readyPod("x-0"), readyPod("x-1"), waitingPod("x-2", "ContainerCreating", "")}}
	setStatus(c, &p, render.Options{}, &specError{etcdv1.ReasonCertificateInvalid, "TLS secret s not found"})
	if c.Status.ReadyReplicas != 2 {
		t.Errorf("readyReplicas %d, want 2", c.Status.ReadyReplicas)
	}
	if d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded); d == nil || d.Reason != etcdv1.ReasonCertificateInvalid {
		t.Errorf("Degraded %+v, want CertificateInvalid", d)
	}
}

// The pod counts in condition messages agree with status.readyReplicas: a
// pod being deleted is not ready, even while the StatefulSet's status
// still counts it (fresh tester: "5 pods (5 ready)" beside 4 ready).
func TestReadyMessageCountsThePods(t *testing.T) {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
	leaving := readyPod("x-2")
	leaving.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	p := pass{cluster: c, sts: stsOf(3, 3, 3), podsListed: true, pods: []corev1.Pod{readyPod("x-0"), readyPod("x-1"), leaving}}
	if got, want := readyMessage(c, &p), "3 pods (2 ready), 3 wanted"; got != want {
		t.Errorf("pods listed: %q, want %q", got, want)
	}
	p.podsListed = false
	if got, want := readyMessage(c, &p), "3 pods (3 ready), 3 wanted"; got != want {
		t.Errorf("pods not listed: %q, want %q (the StatefulSet's count)", got, want)
	}
}
