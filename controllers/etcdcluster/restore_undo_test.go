package etcdcluster

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// restorePod is a member pod made from restore id's template whose restore
// init container has restarted restarts times, last ending with exit code
// (0: still running).
func restorePod(name, id string, restarts int32, exit int32, msg string, current bool) corev1.Pod {
	cs := corev1.ContainerStatus{Name: "restore", RestartCount: restarts}
	if exit != 0 {
		t := &corev1.ContainerStateTerminated{ExitCode: exit, Message: msg}
		if current {
			cs.State.Terminated = t
		} else {
			cs.LastTerminationState.Terminated = t
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
		}
	} else {
		cs.State.Running = &corev1.ContainerStateRunning{}
	}
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{render.AnnotationRestoreID: id}},
		Status:     corev1.PodStatus{InitContainerStatuses: []corev1.ContainerStatus{cs}},
	}
}

func TestRestoreFailure(t *testing.T) {
	started := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	soon := started.Add(time.Minute)
	for _, c := range []struct {
		name string
		pods []corev1.Pod
		now  time.Time
		want string // substring of the cause; "" for none
	}{
		{"nothing yet", nil, soon, ""},
		{"restoring", []corev1.Pod{restorePod("c-0", "r1", 0, 0, "", false)}, soon, ""},
		{"first failure is retried", []corev1.Pod{restorePod("c-0", "r1", 0, 1, "not found", true)}, soon, ""},
		{"second failure is retried", []corev1.Pod{restorePod("c-0", "r1", 1, 1, "not found", false)}, soon, ""},
		{"failing again after the tolerated restarts", []corev1.Pod{restorePod("c-0", "r1", 2, 1, "restore failed: snapshot not found", false)}, soon,
			"the restore init container of c-0 failed 3 times: restore failed: snapshot not found"},
		{"the current termination counts too", []corev1.Pod{restorePod("c-1", "r1", 3, 1, "boom", true)}, soon, "c-1 failed 4 times: boom"},
		{"no message: the exit code", []corev1.Pod{restorePod("c-0", "r1", 2, 2, "", false)}, soon, "exit code 2"},
		{"another restore's pod is not this one's failure", []corev1.Pod{restorePod("c-0", "r0", 5, 1, "old", false)}, soon, ""},
		{"the first failing pod by name", []corev1.Pod{restorePod("c-2", "r1", 2, 1, "two", false), restorePod("c-10", "r1", 2, 1, "ten", false)}, soon, "c-10"},
		{"one member restored, another failing", []corev1.Pod{restorePod("c-0", "r1", 0, 0, "", false), restorePod("c-1", "r1", 2, 1, "no room", false)}, soon, "c-1"},
		{"a third attempt running after two failures may still succeed", []corev1.Pod{func() corev1.Pod {
			p := restorePod("c-0", "r1", 2, 0, "", false)
			p.Status.InitContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Message: "not found"}
			return p
		}()}, soon, ""},
		{"restarted after a success is no failure", []corev1.Pod{restorePod("c-0", "r1", 4, 0, "", false)}, soon, ""},
		{"deadline not reached", []corev1.Pod{restorePod("c-0", "r1", 0, 0, "", false)}, started.Add(InPlaceRestoreDeadline - time.Second), ""},
		{"deadline reached", []corev1.Pod{restorePod("c-0", "r1", 0, 0, "", false)}, started.Add(InPlaceRestoreDeadline), "not all restored within 20m0s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := restoreFailure(c.pods, "r1", started, c.now)
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("restoreFailure = %q, want %q", got, c.want)
			}
		})
	}
}

func TestRollingBack(t *testing.T) {
	x := &etcdv1.EtcdRestore{Status: etcdv1.EtcdRestoreStatus{RestoreID: "r1"}}
	for _, c := range []struct {
		name string
		st   *etcdv1.ClusterRestoreStatus
		x    *etcdv1.EtcdRestore
		want bool
	}{
		{"no restore", nil, x, false},
		{"no EtcdRestore", &etcdv1.ClusterRestoreStatus{RestoreID: "r1", Failure: "f"}, nil, false},
		{"restoring", &etcdv1.ClusterRestoreStatus{RestoreID: "r1"}, x, false},
		{"failed", &etcdv1.ClusterRestoreStatus{RestoreID: "r1", Failure: "f"}, x, true},
		{"rolled back", &etcdv1.ClusterRestoreStatus{RestoreID: "r1", Failure: "f", RolledBack: true}, x, false},
		{"another restore's failure", &etcdv1.ClusterRestoreStatus{RestoreID: "r0", Failure: "f"}, x, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := &etcdv1.EtcdCluster{Status: etcdv1.EtcdClusterStatus{Restore: c.st}}
			if got := rollingBack(cl, c.x); got != c.want {
				t.Errorf("rollingBack = %v, want %v", got, c.want)
			}
		})
	}
}
