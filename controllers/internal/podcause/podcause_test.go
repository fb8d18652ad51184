package podcause

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pod(name string, mut func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	mut(&p)
	return p
}

func waiting(reason, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "etcd", Image: "quorum.dev/etcd-server:9.9.9",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
}

// runningAfter is a container that runs, not ready, after restarts, the
// last of which ended as last.
func runningAfter(restarts int32, last *corev1.ContainerStateTerminated) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "etcd", RestartCount: restarts,
		State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		LastTerminationState: corev1.ContainerState{Terminated: last}}
}

func TestOf(t *testing.T) {
	cases := []struct {
		name    string
		pod     corev1.Pod
		reason  string
		stuck   bool
		message string // substring
	}{
		{"image never pulled", pod("e-0", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("ErrImageNeverPull", `Container image "quorum.dev/etcd-server:9.9.9" is not present with pull policy of Never`)}
		}), ImagePull, true, "image quorum.dev/etcd-server:9.9.9 cannot be pulled (ErrImageNeverPull: Container image"},
		{"image pull back-off", pod("e-0", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("ImagePullBackOff", "Back-off pulling image")}
		}), ImagePull, true, "ImagePullBackOff"},
		{"missing secret", pod("b-0", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("CreateContainerConfigError", `secret "creds" not found`)}
		}), ContainerConfig, true, `secret "creds" not found`},
		{"crash loop with etcd's message", pod("e-1", func(p *corev1.Pod) {
			s := waiting("CrashLoopBackOff", "back-off 40s restarting failed container")
			s.RestartCount = 3
			s.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
				Message: "starting\nquorum-etcd: etcdOptions: unknown key \"snapshot-cnt\"\n"}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{s}
		}), CrashLoop, true, `exited with code 1 (3 restarts): quorum-etcd: etcdOptions: unknown key "snapshot-cnt"`},
		{"oom killed", pod("e-2", func(p *corev1.Pod) {
			s := waiting("CrashLoopBackOff", "")
			s.RestartCount = 2
			s.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{s}
		}), OOMKilled, true, "exceeding its memory limit"},
		{"init container failed", pod("e-0", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "restore", RestartCount: 1,
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Message: "snapshot hash mismatch"}}}}
		}), InitFailed, true, "init container restore exited with code 2 (1 restarts): snapshot hash mismatch"},
		{"init container in back-off", pod("e-0", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			s := corev1.ContainerStatus{Name: "restore", RestartCount: 4,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: "no space"}}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{s}
		}), InitFailed, true, "no space"},
		{"unschedulable", pod("e-0", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
				Message: "0/1 nodes are available: 1 Insufficient memory."}}
		}), Unschedulable, true, "Insufficient memory"},
		{"claim not bound", pod("e-0", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
				Message: "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."}}
		}), ClaimPending, false, "unbound immediate PersistentVolumeClaims"},
		{"running, not ready", pod("e-0", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "etcd", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		}), Starting, false, "not ready yet"},
		{"running between crash-loop back-offs", pod("e-1", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{runningAfter(3, &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
				Message: "quorum-etcd: etcdOptions: unknown key \"snapshot-cnt\""})}
		}), CrashLoop, true, `exited with code 1 (3 restarts): quorum-etcd: etcdOptions: unknown key "snapshot-cnt"`},
		{"running between back-offs after OOM kills", pod("e-1", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{runningAfter(2, &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"})}
		}), OOMKilled, true, "exceeding its memory limit (OOMKilled, 2 restarts)"},
		{"running after one failed restart is starting", pod("e-1", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{runningAfter(1, &corev1.ContainerStateTerminated{ExitCode: 1})}
		}), Starting, false, "not ready yet"},
		{"running after restarts that exited cleanly is starting", pod("e-1", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{runningAfter(5, &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"})}
		}), Starting, false, "not ready yet"},
		{"running after restarts with no last state is starting", pod("e-1", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{runningAfter(5, nil)}
		}), Starting, false, "not ready yet"},
		{"terminating", pod("e-0", func(p *corev1.Pod) {
			p.DeletionTimestamp = &metav1.Time{}
		}), Terminating, false, "being deleted"},
		{"long message shortened", pod("e-0", func(p *corev1.Pod) {
			s := waiting("CrashLoopBackOff", "")
			s.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Message: strings.Repeat("x", 1000)}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{s}
		}), CrashLoop, true, strings.Repeat("x", maxMessage) + "…"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Of(&tc.pod)
			if !ok {
				t.Fatalf("Of: pod reported ready")
			}
			if got.Reason != tc.reason || got.Stuck != tc.stuck || !strings.Contains(got.Message, tc.message) {
				t.Fatalf("Of = %+v, want reason %s stuck %v message containing %q", got, tc.reason, tc.stuck, tc.message)
			}
			if len(got.Message) > maxMessage+200 {
				t.Fatalf("message too long: %d", len(got.Message))
			}
		})
	}
}

func TestReadyPodHasNoCause(t *testing.T) {
	p := pod("e-0", func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	})
	if c, ok := Of(&p); ok {
		t.Fatalf("ready pod has cause %+v", c)
	}
}

func TestSummaryStuckFirst(t *testing.T) {
	pods := []corev1.Pod{
		pod("e-0", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "etcd", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		}),
		pod("e-1", func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}),
		pod("e-2", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("ErrImageNeverPull", "not present")}
		}),
	}
	got := Summary(pods)
	want := "e-2: container etcd: image quorum.dev/etcd-server:9.9.9 cannot be pulled (ErrImageNeverPull: not present); e-0: running, not ready yet"
	if got != want {
		t.Fatalf("Summary =\n%s\nwant\n%s", got, want)
	}
	if Summary(pods[1:2]) != "" {
		t.Fatalf("Summary of ready pods not empty")
	}
}

func TestWithClaim(t *testing.T) {
	unbound := pod("e-0", func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodPending
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
			Message: "pod has unbound immediate PersistentVolumeClaims. not found"}}
	})
	pending, ok := Of(&unbound)
	if !ok || pending.Reason != ClaimPending || pending.Stuck {
		t.Fatalf("Of = %+v, %v; want ClaimPending, not stuck", pending, ok)
	}
	str := func(s string) *string { return &s }
	cases := []struct {
		name    string
		cause   Cause
		claim   Claim
		stuck   bool
		message string // substring
	}{
		{"class does not exist", pending, Claim{Name: "data-e-0", Phase: corev1.ClaimPending, Class: str("does-not-exist")}, true,
			"volume claim data-e-0 is Pending: StorageClass does-not-exist not found; storage.storageClassName cannot be changed: create the StorageClass, or delete the cluster and recreate it"},
		{"no class named, no default", pending, Claim{Name: "data-e-0", Phase: corev1.ClaimPending}, true,
			"names no StorageClass and the cluster has no default StorageClass"},
		{"class exists: its provisioner may still do it", pending,
			Claim{Name: "data-e-0", Phase: corev1.ClaimPending, Class: str("fast"), ClassFound: true, Provisioner: "csi.example"}, false,
			"volume claim data-e-0 is Pending: waiting for provisioner csi.example of StorageClass fast to provision a volume"},
		{"default class", pending,
			Claim{Name: "data-e-0", Phase: corev1.ClaimPending, DefaultClass: "standard", ClassFound: true, Provisioner: "rancher.io/local-path"}, false,
			"waiting for provisioner rancher.io/local-path of StorageClass standard"},
		{"static binding only", pending, Claim{Name: "data-e-0", Phase: corev1.ClaimPending, Class: str("")}, false,
			"waiting for a matching PersistentVolume"},
		{"claim already bound: the scheduler's message stays", pending, Claim{Name: "data-e-0", Phase: corev1.ClaimBound, Class: str("gone")}, false,
			"cannot be scheduled: pod has unbound immediate PersistentVolumeClaims"},
		{"another cause is left alone", Cause{Pod: "e-0", Reason: Starting, Message: "pending"},
			Claim{Name: "data-e-0", Phase: corev1.ClaimPending, Class: str("gone")}, false, "pending"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := WithClaim(tc.cause, tc.claim)
			if got.Stuck != tc.stuck || !strings.Contains(got.Message, tc.message) || got.Pod != "e-0" {
				t.Errorf("WithClaim = %+v; want stuck %v, message containing %q", got, tc.stuck, tc.message)
			}
		})
	}
}

// A panic's cause is its "panic:" line, not the stack frame its trace ends
// with; other messages keep their last line.
func TestLastLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"starting etcd\nerror: bad flag", "error: bad flag"},
		{"{\"level\":\"info\"}\npanic: failed to mlock memory: cannot allocate memory\n\ngoroutine 1 [running]:\ngo.etcd.io/etcd/server/v3@v3.7.3/storage/backend.go:75 +0x18d",
			"panic: failed to mlock memory: cannot allocate memory"},
		{"fatal error: runtime: out of memory\n\nruntime stack:\nruntime.throw()", "fatal error: runtime: out of memory"},
	} {
		if got := lastLine(tc.in); got != tc.want {
			t.Errorf("lastLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
