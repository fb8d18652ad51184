package etcdcluster

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/maintenance"
	"quorum.dev/etcd-operator/controllers/membership"
	"quorum.dev/etcd-operator/controllers/render"
)

func cond(t, status, reason string) metav1.Condition {
	return metav1.Condition{Type: t, Status: metav1.ConditionStatus(status), Reason: reason, Message: reason + " message"}
}

func TestReadiness(t *testing.T) {
	avail := cond(etcdv1.ConditionAvailable, "True", etcdv1.ReasonQuorumHealthy)
	settled := cond(etcdv1.ConditionProgressing, "False", etcdv1.ReasonReconciled)
	healthy := cond(etcdv1.ConditionDegraded, "False", etcdv1.ReasonAllMembersHealthy)
	for _, tc := range []struct {
		name   string
		conds  []metav1.Condition
		maint  string
		ok     bool
		reason string
	}{
		{"available, settled, healthy", []metav1.Condition{avail, settled, healthy}, "", true, etcdv1.ReasonReconciled},
		{"nothing written yet", nil, "", false, etcdv1.ReasonBootstrapping},
		{"quorum lost", []metav1.Condition{cond(etcdv1.ConditionAvailable, "False", etcdv1.ReasonQuorumLost), settled, healthy}, "", false, etcdv1.ReasonQuorumLost},
		{"members not ready wins over progressing", []metav1.Condition{cond(etcdv1.ConditionAvailable, "False", etcdv1.ReasonMembersNotReady),
			cond(etcdv1.ConditionProgressing, "True", etcdv1.ReasonRollingOut), healthy}, "", false, etcdv1.ReasonMembersNotReady},
		{"rollout", []metav1.Condition{avail, cond(etcdv1.ConditionProgressing, "True", etcdv1.ReasonRollingOut), healthy}, "", false, etcdv1.ReasonRollingOut},
		{"scaling", []metav1.Condition{avail, cond(etcdv1.ConditionProgressing, "True", etcdv1.ReasonScaling), healthy}, "", false, etcdv1.ReasonScaling},
		{"scale pending", []metav1.Condition{avail, cond(etcdv1.ConditionProgressing, "True", etcdv1.ReasonScalePending), healthy}, "", false, etcdv1.ReasonScalePending},
		{"restore in place", []metav1.Condition{avail, cond(etcdv1.ConditionProgressing, "True", etcdv1.ReasonRestoringInPlace), healthy}, "", false, etcdv1.ReasonRestoringInPlace},
		{"TLS migration", []metav1.Condition{avail, cond(etcdv1.ConditionProgressing, "True", etcdv1.ReasonTLSMigrating), healthy}, "", false, etcdv1.ReasonTLSMigrating},
		{"volume growth", []metav1.Condition{avail, cond(etcdv1.ConditionProgressing, "True", etcdv1.ReasonVolumeExpanding), healthy}, "", false, etcdv1.ReasonVolumeExpanding},
		{"degraded beats progressing", []metav1.Condition{avail, cond(etcdv1.ConditionProgressing, "True", etcdv1.ReasonRollingOut),
			cond(etcdv1.ConditionDegraded, "True", etcdv1.ReasonMemberPodsFailing)}, "", false, etcdv1.ReasonMemberPodsFailing},
		{"stuck rollout: Progressing False, Degraded True", []metav1.Condition{avail, cond(etcdv1.ConditionProgressing, "False", etcdv1.ReasonRolloutStuck),
			cond(etcdv1.ConditionDegraded, "True", etcdv1.ReasonRolloutStuck)}, "", false, etcdv1.ReasonRolloutStuck},
		{"NOSPACE", []metav1.Condition{avail, settled, cond(etcdv1.ConditionDegraded, "True", etcdv1.ReasonNoSpace)}, "compacting", false, etcdv1.ReasonNoSpace},
		{"defragmentation round", []metav1.Condition{avail, settled, healthy}, "defragmenting x-1", false, etcdv1.ReasonMaintaining},
		{"no Progressing yet", []metav1.Condition{avail, healthy}, "", false, etcdv1.ReasonBootstrapping},
		// A certificate near expiry is a warning: Ready does not read it.
		{"certificates expiring", []metav1.Condition{avail, settled, healthy,
			cond(etcdv1.ConditionCertificatesExpiring, "True", etcdv1.ReasonCertificateExpiring)}, "", true, etcdv1.ReasonReconciled},
		{"certificates expired", []metav1.Condition{avail, settled, healthy,
			cond(etcdv1.ConditionCertificatesExpiring, "True", etcdv1.ReasonCertificateExpired)}, "", true, etcdv1.ReasonReconciled},
	} {
		got := readiness(tc.conds, tc.maint)
		if got.ok != tc.ok || got.reason != tc.reason || got.msg == "" {
			t.Errorf("%s: got %+v, want ok=%v reason %s with a message", tc.name, got, tc.ok, tc.reason)
		}
	}
}

// TestSetStatusReadyLeaderAndReadyMembers: setStatus writes Ready, names
// the leader only while a member answers, and counts ready member pods
// not being deleted, whatever the StatefulSet's (lagging) status says.
func TestSetStatusReadyLeaderAndReadyMembers(t *testing.T) {
	readyPod := func(name string, deleting bool) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
		if deleting {
			p.DeletionTimestamp = ptr.To(metav1.Now())
		}
		return p
	}
	healthyObs := observation{contacted: true, leader: 1, voters: 3, members: []etcdv1.MemberStatus{
		member("x-0", etcdv1.RoleFollower, true), member("x-1", etcdv1.RoleLeader, true), member("x-2", etcdv1.RoleFollower, true)}}
	for _, tc := range []struct {
		name        string
		pass        pass
		ready       bool
		readyReason string
		leader      string
		readyPods   int32
	}{
		{"healthy and settled", pass{observed: true, boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(3), obs: healthyObs,
			pods: []corev1.Pod{readyPod("x-0", false), readyPod("x-1", false), readyPod("x-2", false)}}, true, etcdv1.ReasonReconciled, "x-1", 3},
		{"every pod deleted at once: the StatefulSet still says 3 ready", pass{observed: true, boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(3),
			pods: []corev1.Pod{readyPod("x-0", true), readyPod("x-1", true), readyPod("x-2", true)}}, false, etcdv1.ReasonMembersNotReady, "", 0},
		{"etcd answered at observe, every pod deleted by the end of the pass", pass{observed: true, boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(3), obs: healthyObs,
			pods: []corev1.Pod{readyPod("x-0", true), readyPod("x-1", true), readyPod("x-2", true)}}, false, etcdv1.ReasonMembersNotReady, "", 0},
		{"scaling", pass{observed: true, boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(3), obs: healthyObs,
			membership: &membership.Action{Kind: membership.AddLearner, Reason: "adding x-3"},
			pods:       []corev1.Pod{readyPod("x-0", false), readyPod("x-1", false), readyPod("x-2", false)}}, false, etcdv1.ReasonScaling, "x-1", 3},
		{"defragmenting", pass{observed: true, boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(3), obs: healthyObs,
			maintBusy: true, maint: &maintenance.Action{Kind: maintenance.Defragment, Reason: "defragmenting x-0"},
			pods: []corev1.Pod{readyPod("x-0", false), readyPod("x-1", false), readyPod("x-2", false)}}, false, etcdv1.ReasonMaintaining, "x-1", 3},
	} {
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 1}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)},
			Status: etcdv1.EtcdClusterStatus{Leader: "x-2", ReadyReplicas: 3}}
		p := tc.pass
		p.cluster = c
		if p.sts != nil {
			p.sts.Spec.Replicas = ptr.To[int32](3)
		}
		setStatus(c, &p, render.Options{}, nil)
		r := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionReady)
		if r == nil || (r.Status == metav1.ConditionTrue) != tc.ready || r.Reason != tc.readyReason {
			t.Errorf("%s: Ready %+v, want %v/%s", tc.name, r, tc.ready, tc.readyReason)
		}
		if c.Status.Leader != tc.leader {
			t.Errorf("%s: leader %q, want %q", tc.name, c.Status.Leader, tc.leader)
		}
		if c.Status.ReadyReplicas != tc.readyPods {
			t.Errorf("%s: readyReplicas %d, want %d", tc.name, c.Status.ReadyReplicas, tc.readyPods)
		}
	}
}

func TestSilentPod(t *testing.T) {
	running := corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: render.ContainerName, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}
	exited := corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: render.ContainerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}}}}
	pods := []corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "x-0"}, Status: running},
		{ObjectMeta: metav1.ObjectMeta{Name: "x-1", DeletionTimestamp: ptr.To(metav1.Now())}, Status: running},
		{ObjectMeta: metav1.ObjectMeta{Name: "x-2"}, Status: exited},
	}
	for name, want := range map[string]string{
		"x-0": "",
		"x-1": "not asked: its pod is being deleted",
		"x-2": "not asked: its etcd container is not running",
		"x-3": "", // no pod known: asked anyway
	} {
		if got := silentPod(pods, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}
