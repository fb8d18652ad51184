package etcdcluster

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/maintenance"
	"quorum.dev/etcd-operator/controllers/render"
)

func TestAlarmCondition(t *testing.T) {
	alarmed := func(name string, as ...string) etcdv1.MemberStatus {
		m := member(name, etcdv1.RoleFollower, true)
		m.Alarms = as
		return m
	}
	obs := func(as []etcdclient.Alarm, ms ...etcdv1.MemberStatus) observation {
		return observation{contacted: true, leader: 1, voters: len(ms), members: ms, alarms: as}
	}
	nospace := []etcdclient.Alarm{{MemberID: 1, Type: etcdclient.AlarmNoSpace}}
	corrupt := []etcdclient.Alarm{{MemberID: 1, Type: etcdclient.AlarmCorrupt}}
	full := maintenance.Action{Kind: maintenance.QuotaFull, Reason: "NOSPACE: after compaction c-0 still uses 95% of its quota 16777216"}
	compact := maintenance.Action{Kind: maintenance.Compact, Reason: "NOSPACE: compacting to revision 9"}
	for _, tc := range []struct {
		name       string
		p          pass
		reason     string
		msgHas     []string
		notAlarmed bool
	}{
		{"no alarm", pass{obs: obs(nil, member("a", etcdv1.RoleLeader, true))}, "", nil, true},
		{"NOSPACE, recovering", pass{obs: obs(nospace, alarmed("a", "NOSPACE")), maint: &compact}, etcdv1.ReasonNoSpace,
			[]string{"NOSPACE alarm raised on a", "reads and deletes", "recovering", "writes resume after the disarm"}, false},
		{"NOSPACE, live data fills the quota", pass{obs: obs(nospace, alarmed("a", "NOSPACE")), maint: &full}, etcdv1.ReasonNoSpace,
			[]string{"95% of its quota 16777216", "spec.quota.backendBytes", "disarms once the new quota leaves room"}, false},
		{"NOSPACE before the planner ran", pass{obs: obs(nospace, alarmed("a", "NOSPACE"))}, etcdv1.ReasonNoSpace, []string{"once it can reach every voter"}, false},
		{"CORRUPT wins over NOSPACE", pass{obs: obs(append(corrupt, nospace...), alarmed("a", "CORRUPT", "NOSPACE"))}, etcdv1.ReasonDataCorrupt,
			[]string{"CORRUPT alarm raised on a", "hashkv", "data_corruption", "disarms CORRUPT once every member agrees"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, msg, ok := alarmCondition(&tc.p)
			if ok == tc.notAlarmed || reason != tc.reason {
				t.Fatalf("alarmCondition = %q, %q, %v; want reason %q", reason, msg, ok, tc.reason)
			}
			for _, s := range tc.msgHas {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q lacks %q", msg, s)
				}
			}
		})
	}
}

// An alarm does not make a member unhealthy: with NOSPACE on every member
// the cluster is Available and Degraded for NoSpace, not MemberUnhealthy.
func TestSetStatusNoSpaceIsNotUnhealthy(t *testing.T) {
	c := &etcdv1.EtcdCluster{Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}}
	m := member("a", etcdv1.RoleLeader, true)
	m.Alarms = []string{"NOSPACE"}
	p := &pass{cluster: c, stsReplicas: 1, sts: readySTS(1), obs: observation{contacted: true, leader: 1, voters: 1, members: []etcdv1.MemberStatus{m},
		alarms: []etcdclient.Alarm{{MemberID: 1, Type: etcdclient.AlarmNoSpace}}}}
	setStatus(c, p, renderOptions(), nil)
	for typ, want := range map[string]string{etcdv1.ConditionAvailable: etcdv1.ReasonQuorumHealthy, etcdv1.ConditionDegraded: etcdv1.ReasonNoSpace} {
		if got := findCondition(c, typ); got == nil || got.Reason != want {
			t.Errorf("%s = %+v, want %s", typ, got, want)
		}
	}
}

func TestPolicyFor(t *testing.T) {
	q := resource.MustParse
	for _, tc := range []struct {
		name string
		spec *etcdv1.DefragmentationSpec
		m    maintenance.Member
		want bool
	}{
		{"no spec: no threshold", nil, maintenance.Member{DBSize: 900 << 20, DBSizeInUse: 100 << 20}, false},
		{"percent passed", &etcdv1.DefragmentationSpec{FreeablePercent: ptr.To[int32](50)}, maintenance.Member{DBSize: 900 << 20, DBSizeInUse: 100 << 20}, true},
		{"percent, below the default 64Mi floor", &etcdv1.DefragmentationSpec{FreeablePercent: ptr.To[int32](50)}, maintenance.Member{DBSize: 60 << 20, DBSizeInUse: 1 << 20}, false},
		{"percent, small floor", &etcdv1.DefragmentationSpec{FreeablePercent: ptr.To[int32](50), MinDBSize: ptr.To(q("4Mi"))}, maintenance.Member{DBSize: 20 << 20, DBSizeInUse: 2 << 20}, true},
		{"bytes only: share does not count", &etcdv1.DefragmentationSpec{FreeableBytes: ptr.To(q("500Mi"))}, maintenance.Member{DBSize: 900 << 20, DBSizeInUse: 500 << 20}, false},
		{"bytes passed", &etcdv1.DefragmentationSpec{FreeableBytes: ptr.To(q("500Mi"))}, maintenance.Member{DBSize: 900 << 20, DBSizeInUse: 300 << 20}, true},
		{"schedule only: no threshold", &etcdv1.DefragmentationSpec{Schedule: "@daily"}, maintenance.Member{DBSize: 900 << 20, DBSizeInUse: 100 << 20}, false},
	} {
		if got := policyFor(tc.spec).PassesThreshold(tc.m); got != tc.want {
			t.Errorf("%s: PassesThreshold = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func renderOptions() render.Options { return render.Options{} }

func findCondition(c *etcdv1.EtcdCluster, typ string) *metav1.Condition {
	return meta.FindStatusCondition(c.Status.Conditions, typ)
}
