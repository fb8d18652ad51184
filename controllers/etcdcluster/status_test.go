package etcdcluster

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/podcause"
	"quorum.dev/etcd-operator/controllers/membership"
	"quorum.dev/etcd-operator/controllers/render"
)

func member(name string, role etcdv1.MemberRole, healthy bool) etcdv1.MemberStatus {
	return etcdv1.MemberStatus{Name: name, ID: name, Role: role, Healthy: healthy}
}

func readySTS(n int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Generation: 1},
		Status:     appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: n, ReadyReplicas: n, UpdatedReplicas: n, CurrentRevision: "r", UpdateRevision: "r"},
	}
}

// claimWaiting is a member pod the scheduler holds for its unbound claim.
func claimWaiting(name string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: corev1.PodPending,
		Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
			Message: "pod has unbound immediate PersistentVolumeClaims. not found"}}}}
}

func TestSetStatus(t *testing.T) {
	type want struct{ available, progressing, degraded string }
	cases := []struct {
		name    string
		pass    pass
		stepErr error
		want    want
		obsGen  bool
	}{
		{"new cluster, nothing ready", pass{boot: render.Bootstrap{State: render.StateNew}, stsReplicas: 3, sts: &appsv1.StatefulSet{}},
			nil, want{etcdv1.ReasonBootstrapping, etcdv1.ReasonBootstrapping, etcdv1.ReasonBootstrapping}, true},
		{"healthy", pass{boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(3), obs: observation{contacted: true, leader: 1, voters: 3,
			members: []etcdv1.MemberStatus{member("x-0", etcdv1.RoleLeader, true), member("x-1", etcdv1.RoleFollower, true), member("x-2", etcdv1.RoleFollower, true)}}},
			nil, want{etcdv1.ReasonQuorumHealthy, etcdv1.ReasonReconciled, etcdv1.ReasonAllMembersHealthy}, true},
		{"one of three down keeps quorum", pass{boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(2), obs: observation{contacted: true, leader: 1, voters: 3,
			members: []etcdv1.MemberStatus{member("a", etcdv1.RoleLeader, true), member("b", etcdv1.RoleFollower, true), member("c", etcdv1.RoleFollower, false)}}},
			nil, want{etcdv1.ReasonQuorumHealthy, etcdv1.ReasonMembersNotReady, etcdv1.ReasonMemberUnhealthy}, true},
		{"two of three down loses quorum", pass{boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(1), obs: observation{contacted: true, leader: 0, voters: 3,
			members: []etcdv1.MemberStatus{member("a", etcdv1.RoleFollower, true), member("b", etcdv1.RoleFollower, false), member("c", etcdv1.RoleFollower, false)}}},
			nil, want{etcdv1.ReasonQuorumLost, etcdv1.ReasonMembersNotReady, etcdv1.ReasonMemberUnhealthy}, true},
		{"healthy learners do not make quorum", pass{boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(3), obs: observation{contacted: true, leader: 1, voters: 1,
			members: []etcdv1.MemberStatus{member("a", etcdv1.RoleFollower, false), member("b", etcdv1.RoleLearner, true), member("c", etcdv1.RoleLearner, true)}}},
			nil, want{etcdv1.ReasonQuorumLost, etcdv1.ReasonMembersNotReady, etcdv1.ReasonMemberUnhealthy}, true},
		{"unreachable after formation", pass{boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(3), obs: observation{err: errors.New("dial failed")}},
			nil, want{etcdv1.ReasonUnreachable, etcdv1.ReasonMembersNotReady, etcdv1.ReasonMembersNotReady}, true},
		{"password rejected by a recreated cluster's data", pass{boot: render.Bootstrap{State: render.StateNew}, stsReplicas: 3, sts: readySTS(3),
			obs: observation{err: &authRejectedError{secret: "x-root-password", tried: 2, cause: errors.New("authentication failed")}}},
			nil, want{etcdv1.ReasonAuthRejected, etcdv1.ReasonBootstrapping, etcdv1.ReasonAuthRejected}, true},
		{"scale pending", pass{boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 1, sts: readySTS(1), obs: observation{contacted: true, leader: 1, voters: 1,
			members: []etcdv1.MemberStatus{member("a", etcdv1.RoleLeader, true)}}},
			nil, want{etcdv1.ReasonQuorumHealthy, etcdv1.ReasonScalePending, etcdv1.ReasonAllMembersHealthy}, true},
		{"a voter missing a status call while a learner is promoted is not Degraded", pass{boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(3),
			membership: &membership.Action{Kind: membership.PromoteLearner}, obs: observation{contacted: true, leader: 1, voters: 3,
				members: []etcdv1.MemberStatus{member("x-0", etcdv1.RoleLeader, true), member("x-1", etcdv1.RoleFollower, false), member("x-2", etcdv1.RoleFollower, true), member("x-3", etcdv1.RoleLearner, true)}}},
			nil, want{etcdv1.ReasonQuorumHealthy, etcdv1.ReasonScaling, etcdv1.ReasonMembersNotReady}, true},
		{"the same voter with no change planned is Degraded", pass{boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(3),
			membership: &membership.Action{Kind: membership.None}, obs: observation{contacted: true, leader: 1, voters: 3,
				members: []etcdv1.MemberStatus{member("x-0", etcdv1.RoleLeader, true), member("x-1", etcdv1.RoleFollower, false), member("x-2", etcdv1.RoleFollower, true)}}},
			nil, want{etcdv1.ReasonQuorumHealthy, etcdv1.ReasonMembersNotReady, etcdv1.ReasonMemberUnhealthy}, true},
		{"step error keeps observedGeneration", pass{boot: render.Bootstrap{State: render.StateNew}, stsReplicas: 3},
			errors.New("certificates: boom"), want{etcdv1.ReasonBootstrapping, etcdv1.ReasonReconcileError, etcdv1.ReasonReconcileError}, false},
		{"healthy but one member short of the spec is not reconciled", pass{boot: render.Bootstrap{State: render.StateExisting}, stsReplicas: 3, sts: readySTS(3), obs: observation{contacted: true, leader: 1, voters: 2,
			members: []etcdv1.MemberStatus{member("x-0", etcdv1.RoleLeader, true), member("x-1", etcdv1.RoleFollower, true)}}},
			nil, want{etcdv1.ReasonQuorumHealthy, etcdv1.ReasonMembersNotReady, etcdv1.ReasonAllMembersHealthy}, true},
		{"waiting for a running backup to restore from is Progressing, not Degraded", pass{boot: render.Bootstrap{State: render.StateNew}},
			fmt.Errorf("restore source: %w", &waitError{etcdv1.ReasonRestoreSourcePending, "waiting for EtcdBackup b to restore from: it is Running"}),
			want{etcdv1.ReasonBootstrapping, etcdv1.ReasonRestoreSourcePending, etcdv1.ReasonBootstrapping}, false},
		{"a claim whose StorageClass does not exist is Degraded", pass{boot: render.Bootstrap{State: render.StateNew}, stsReplicas: 3, sts: &appsv1.StatefulSet{},
			pods: []corev1.Pod{claimWaiting("x-0")}, claims: map[string]podcause.Claim{"x-0": {Name: "data-x-0", Phase: corev1.ClaimPending, Class: ptr.To("does-not-exist")}}},
			nil, want{etcdv1.ReasonBootstrapping, etcdv1.ReasonBootstrapping, etcdv1.ReasonMemberPodsFailing}, true},
		{"a claim waiting for its provisioner is Bootstrapping", pass{boot: render.Bootstrap{State: render.StateNew}, stsReplicas: 3, sts: &appsv1.StatefulSet{},
			pods: []corev1.Pod{claimWaiting("x-0")}, claims: map[string]podcause.Claim{"x-0": {Name: "data-x-0", Phase: corev1.ClaimPending, Class: ptr.To("fast"), ClassFound: true, Provisioner: "p"}}},
			nil, want{etcdv1.ReasonBootstrapping, etcdv1.ReasonBootstrapping, etcdv1.ReasonBootstrapping}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", Generation: 4}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
			c.Status.ObservedGeneration = 3
			p := tc.pass
			p.cluster = c
			setStatus(c, &p, render.Options{}, tc.stepErr)
			for typ, reason := range map[string]string{etcdv1.ConditionAvailable: tc.want.available, etcdv1.ConditionProgressing: tc.want.progressing, etcdv1.ConditionDegraded: tc.want.degraded} {
				got := meta.FindStatusCondition(c.Status.Conditions, typ)
				if got == nil || got.Reason != reason {
					t.Errorf("%s: got %+v, want reason %s", typ, got, reason)
				}
			}
			avail := meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable)
			if avail != (tc.want.available == etcdv1.ReasonQuorumHealthy) {
				t.Errorf("Available=%v with reason %s", avail, tc.want.available)
			}
			if gen := c.Status.ObservedGeneration == 4; gen != tc.obsGen {
				t.Errorf("observedGeneration %d", c.Status.ObservedGeneration)
			}
		})
	}
}

// A root password Secret without its key is reported as such, never as
// unreachable members.
func TestPasswordKeyMissingStatus(t *testing.T) {
	missing := &specError{etcdv1.ReasonAuthSecretMissing, `secret mine has no "password" key: the operator keeps using the root password last applied`}
	none := &specError{etcdv1.ReasonAuthSecretMissing, `secret mine has no "password" key and no root password was applied to etcd yet`}
	existing := render.Bootstrap{State: render.StateExisting}
	for _, tc := range []struct {
		name        string
		pass        pass
		stepErr     error
		availableOK bool
		available   string
		says        string // in Available's message
	}{
		{"the applied password still works: available, degraded", pass{boot: existing, stsReplicas: 3, sts: readySTS(3), passwordKeyMissing: missing,
			obs: observation{contacted: true, leader: 1, voters: 3, members: voters("x-0", "x-1", "x-2")}},
			nil, true, etcdv1.ReasonQuorumHealthy, "3 of 3"},
		{"no password at all: not asked, which is not unreachable", pass{boot: existing, stsReplicas: 3, sts: readySTS(3), obs: observation{err: none}},
			fmt.Errorf("auth: %w", none), false, etcdv1.ReasonAuthSecretMissing, "cannot ask the members: secret mine has no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", Generation: 1}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
			p := tc.pass
			p.cluster = c
			setStatus(c, &p, render.Options{}, tc.stepErr)
			a := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionAvailable)
			if a.Reason != tc.available || (a.Status == metav1.ConditionTrue) != tc.availableOK || !strings.Contains(a.Message, tc.says) {
				t.Errorf("Available %s %s: %s", a.Status, a.Reason, a.Message)
			}
			d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
			if d.Status != metav1.ConditionTrue || d.Reason != etcdv1.ReasonAuthSecretMissing || !strings.Contains(d.Message, `secret mine has no "password" key`) {
				t.Errorf("Degraded %s %s: %s", d.Status, d.Reason, d.Message)
			}
		})
	}
}

// A pass stopped before it asked the members (a token key the operator
// refuses) keeps what was last seen of availability: a formed cluster
// never turns "Bootstrapping". Degraded names the step's cause.
func TestSetStatusKeepsAvailabilityWhenMembersWereNotAsked(t *testing.T) {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", Generation: 2}}
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: etcdv1.ConditionAvailable, Status: metav1.ConditionTrue,
		Reason: etcdv1.ReasonQuorumHealthy, Message: "3 of 3 voting members healthy"})
	stepErr := &specError{etcdv1.ReasonAuthTokenKeyInvalid, "secret x-auth-token-key: invalid key"}
	p := pass{cluster: c}
	setStatus(c, &p, render.Options{}, stepErr)
	if a := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionAvailable); a == nil || a.Status != metav1.ConditionTrue || a.Reason != etcdv1.ReasonQuorumHealthy {
		t.Errorf("Available %+v, want the last seen True QuorumHealthy", a)
	}
	if d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded); d == nil || d.Reason != etcdv1.ReasonAuthTokenKeyInvalid {
		t.Errorf("Degraded %+v, want AuthTokenKeyInvalid", d)
	}

	By := "once the members are asked, availability is theirs again"
	p = pass{cluster: c, observed: true, boot: render.Bootstrap{State: render.StateExisting}, obs: observation{err: errors.New("dial failed")}}
	setStatus(c, &p, render.Options{}, stepErr)
	if a := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionAvailable); a == nil || a.Status != metav1.ConditionFalse {
		t.Errorf("%s: Available %+v, want False", By, a)
	}
}
