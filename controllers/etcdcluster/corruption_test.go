package etcdcluster

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/membership"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/contract"
)

// corruptReportPod is member pod name whose etcd container last exited
// reporting member id's data corrupt.
func corruptReportPod(name string, id uint64) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
		Name:                 render.ContainerName,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: "serve failed: " + contract.DataCorruptMessage(id, "found data inconsistency with peers")}},
	}}}}
}

func TestCorruptCondition(t *testing.T) {
	cluster := func(n int32) *etcdv1.EtcdCluster {
		return &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To(n)}}
	}
	list := func(ids ...uint64) []etcdclient.Member {
		var out []etcdclient.Member
		for i, id := range ids {
			out = append(out, etcdclient.Member{ID: id, Name: "x-" + string(rune('0'+i))})
		}
		return out
	}
	three := observation{contacted: true, leader: 1, voters: 3, list: list(1, 2, 3)}
	corruptAlarm := three
	corruptAlarm.alarms = []etcdclient.Alarm{{MemberID: 3, Type: etcdclient.AlarmCorrupt}}
	corruptAlarm.members = []etcdv1.MemberStatus{{Name: "x-0"}, {Name: "x-1"}, {Name: "x-2", Alarms: []string{"CORRUPT"}}}
	remove := membership.Action{Kind: membership.RemoveMember, Reason: "member x-2 holds corrupt data: removing it by ID"}
	refuse := membership.Action{Kind: membership.Refuse, Reason: "member x-1 holds corrupt data, but removing it would leave 1 healthy of 2 voters, below quorum 2"}
	none := membership.Action{Kind: membership.None, Reason: "3 voters, as desired"}
	minority := membership.JudgeHashes([]uint64{1, 2, 3}, []membership.Hash{{MemberID: 1, Hash: 7}, {MemberID: 2, Hash: 7}, {MemberID: 3, Hash: 8}})
	agree := membership.JudgeHashes([]uint64{1, 2, 3}, []membership.Hash{{MemberID: 1, Hash: 7}, {MemberID: 2, Hash: 7}, {MemberID: 3, Hash: 7}})
	split := membership.JudgeHashes([]uint64{1, 2, 3}, []membership.Hash{{MemberID: 1, Hash: 7}, {MemberID: 2, Hash: 8}, {MemberID: 3, Hash: 9}})
	for _, tc := range []struct {
		name   string
		p      pass
		want   bool
		msgHas []string
	}{
		{"nothing corrupt", pass{cluster: cluster(3), obs: three}, false, nil},
		{"a pod reports its listed member corrupt: replaced",
			pass{cluster: cluster(3), obs: three, pods: []corev1.Pod{corruptReportPod("x-1", 2)}, membership: &remove}, true,
			[]string{"x-1 (ID 2) refuse(s) to start", "removes it by ID", "/var/lib/etcd/data.corrupt-<time>", "adds it back as a learner", "now: member x-2"}},
		{"the report of a member already replaced is no longer news",
			pass{cluster: cluster(3), obs: three, pods: []corev1.Pod{corruptReportPod("x-1", 9)}, membership: &none}, false, nil},
		{"replacement refused for quorum",
			pass{cluster: cluster(3), obs: three, pods: []corev1.Pod{corruptReportPod("x-1", 2), corruptReportPod("x-2", 3)}, membership: &refuse}, true,
			[]string{"x-1 (ID 2), x-2 (ID 3)", "below quorum"}},
		{"single member: restore advised",
			pass{cluster: cluster(1), pods: []corev1.Pod{corruptReportPod("x-0", 1)}}, true,
			[]string{"x-0 (ID 1) refuse(s) to start", "restore the cluster from a backup"}},
		{"CORRUPT with a minority member being replaced",
			pass{cluster: cluster(3), obs: corruptAlarm, corrupt: &minority, membership: &remove}, true,
			[]string{"CORRUPT alarm raised on x-2", "HashKV of 3 differs", "removes it by ID", "disarmed once every member's HashKV agrees"}},
		{"CORRUPT and every HashKV agrees: disarmed",
			pass{cluster: cluster(3), obs: corruptAlarm, corrupt: &agree, membership: &none}, true,
			[]string{"same HashKV", "disarms CORRUPT"}},
		{"CORRUPT without a majority: a person decides",
			pass{cluster: cluster(3), obs: corruptAlarm, corrupt: &split, membership: &none}, true,
			[]string{"cannot tell", "etcdctl endpoint hashkv", "restore the cluster from a backup"}},
		{"a member removed for corrupt data is being added back",
			pass{cluster: cluster(3), obs: three, replacingCorrupt: "x-1 (ID 2)", membership: &membership.Action{Kind: membership.AddLearner, Reason: "2 of 3 voters: adding ordinal 1 as a learner"}}, true,
			[]string{"member x-1 (ID 2) held corrupt data and was removed", "set the data aside as /var/lib/etcd/data.corrupt-<time>", "now: 2 of 3 voters"}},
		{"disarmed this pass", pass{cluster: cluster(3), obs: corruptAlarm, corrupt: &agree, membership: &none, corruptDisarmed: true}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, ok := corruptCondition(&tc.p)
			if ok != tc.want {
				t.Fatalf("corruptCondition = %q, %t; want %t", msg, ok, tc.want)
			}
			for _, s := range tc.msgHas {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q lacks %q", msg, s)
				}
			}
		})
	}
}

func TestRemovedCorrupt(t *testing.T) {
	s := membership.Snapshot{Pods: map[int]membership.Pod{1: {Exists: true, CorruptID: 0xb}}, Members: []membership.Member{{ID: 0xc, Corrupt: true}, {ID: 0xd}}}
	for _, tc := range []struct {
		a    membership.Action
		want bool
	}{
		{membership.Action{Kind: membership.RemoveMember, Ordinal: 1, MemberID: 0xb}, true},
		{membership.Action{Kind: membership.RemoveMember, Ordinal: 2, MemberID: 0xc}, true},
		{membership.Action{Kind: membership.RemoveMember, Ordinal: 3, MemberID: 0xd}, false},
		{membership.Action{Kind: membership.RemoveMember, Ordinal: 1, MemberID: 0xe}, false},
	} {
		if got := removedCorrupt(s, tc.a); got != tc.want {
			t.Errorf("removedCorrupt(%+v) = %t", tc.a, got)
		}
	}
}
