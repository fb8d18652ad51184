// Package podcause reads, from what Kubernetes reports in a pod's status,
// why the pod does not serve: an image that cannot be pulled, a container
// that crashes (with its last termination message), an OOM kill, a failed
// init container, a pod that cannot be scheduled or whose claim is not
// bound. It is pure: no client, no logger.
//
// The waiting reasons are the kubelet's (k8s.io/kubernetes/pkg/kubelet/images
// and kuberuntime: ErrImagePull, ImagePullBackOff, ErrImageNeverPull,
// InvalidImageName, CreateContainerConfigError, CrashLoopBackOff); the
// scheduler's is the PodScheduled condition with reason Unschedulable.
package podcause

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Reasons, short and stable: they end up in condition messages and tests
// match on them.
const (
	// ImagePull: the image cannot be pulled or is not on the node.
	ImagePull = "ImagePull"
	// CrashLoop: the container keeps exiting; the message carries its last
	// termination message. A container that runs but is not ready, after
	// at least two restarts the last of which followed a failure, is in
	// the same loop (the kubelet runs it between back-offs), not Starting.
	CrashLoop = "CrashLoop"
	// OOMKilled: the container was killed for exceeding its memory limit.
	OOMKilled = "OOMKilled"
	// InitFailed: an init container exited with an error.
	InitFailed = "InitContainerFailed"
	// ContainerConfig: the container cannot be created (a missing Secret or
	// key, a bad mount).
	ContainerConfig = "ContainerConfig"
	// Unschedulable: the scheduler found no node for the pod.
	Unschedulable = "Unschedulable"
	// ClaimPending: the pod waits for a PersistentVolumeClaim to bind.
	ClaimPending = "ClaimPending"
	// Starting: the pod runs but is not ready yet; nothing is known wrong.
	Starting = "Starting"
	// Terminating: the pod is being deleted.
	Terminating = "Terminating"
)

// maxMessage bounds the part of a container's termination message that is
// quoted, so that a condition message stays readable.
const maxMessage = 300

// Cause says why one pod is not ready.
type Cause struct {
	Pod    string
	Reason string // one of the constants above
	// Message says what Kubernetes reports, in one line.
	Message string
	// Stuck is true when the pod will not become ready without a change to
	// its spec or its environment (a bad image, a crash loop, an OOM kill,
	// a missing Secret, no node): waiting longer does not help.
	Stuck bool
}

// String is "<pod>: <message>".
func (c Cause) String() string { return c.Pod + ": " + c.Message }

// Of returns why pod is not ready, and false when it is ready.
func Of(pod *corev1.Pod) (Cause, bool) {
	c := Cause{Pod: pod.Name}
	if pod.DeletionTimestamp != nil {
		// Before Ready: a pod being deleted stays Ready until the kubelet
		// has stopped it, and its member is going away.
		c.Reason, c.Message = Terminating, "pod is being deleted"
		return c, true
	}
	if Ready(pod) {
		return Cause{}, false
	}
	for i := range pod.Status.InitContainerStatuses {
		if cause, ok := ofContainer(pod, &pod.Status.InitContainerStatuses[i], true); ok {
			return cause, true
		}
	}
	for i := range pod.Status.ContainerStatuses {
		if cause, ok := ofContainer(pod, &pod.Status.ContainerStatuses[i], false); ok {
			return cause, true
		}
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			c.Reason, c.Stuck = Unschedulable, true
			if strings.Contains(cond.Message, "PersistentVolumeClaim") {
				// The scheduler waits for the claim to bind; a provisioner
				// may still do it.
				c.Reason, c.Stuck = ClaimPending, false
			}
			c.Message = fmt.Sprintf("cannot be scheduled: %s", oneLine(cond.Message))
			return c, true
		}
	}
	c.Reason, c.Message = Starting, "running, not ready yet"
	if pod.Status.Phase == corev1.PodPending {
		c.Message = "pending"
	}
	return c, true
}

// Claim is what the caller read of the PersistentVolumeClaim a pod waits
// for, and of its StorageClass, for WithClaim.
type Claim struct {
	Name  string
	Phase corev1.PersistentVolumeClaimPhase
	// Class is the claim's spec.storageClassName: nil names none (the
	// default class applies), "" asks for no dynamic provisioning.
	Class *string
	// ClassFound: the named class exists. Provisioner is its provisioner.
	ClassFound  bool
	Provisioner string
	// DefaultClass is the cluster's default StorageClass, "" when none.
	DefaultClass string
}

// WithClaim refines a ClaimPending cause with the facts of the pod's claim
// while it is Pending. A claim whose StorageClass does not exist, or which
// names none while the cluster has no default class, never binds: Stuck
// (storage.storageClassName is immutable, so the message says what to do).
// Any other pending claim waits for its provisioner or for a matching
// PersistentVolume, which may still come: not Stuck. Other causes, and
// claims not Pending, are returned unchanged.
func WithClaim(c Cause, cl Claim) Cause {
	if c.Reason != ClaimPending || cl.Phase != corev1.ClaimPending {
		return c
	}
	const fix = "storage.storageClassName cannot be changed: create the StorageClass, or delete the cluster and recreate it with an existing class"
	switch {
	case cl.Class != nil && *cl.Class != "" && !cl.ClassFound:
		c.Stuck = true
		c.Message = fmt.Sprintf("volume claim %s is Pending: StorageClass %s not found; %s", cl.Name, *cl.Class, fix)
	case cl.Class == nil && cl.DefaultClass == "":
		c.Stuck = true
		c.Message = fmt.Sprintf("volume claim %s is Pending: it names no StorageClass and the cluster has no default StorageClass; %s", cl.Name, fix)
	case cl.Class != nil && *cl.Class == "":
		c.Message = fmt.Sprintf("volume claim %s is Pending: waiting for a matching PersistentVolume (storageClassName \"\": no dynamic provisioning)", cl.Name)
	default:
		class := cl.DefaultClass
		if cl.Class != nil {
			class = *cl.Class
		}
		c.Message = fmt.Sprintf("volume claim %s is Pending: waiting for provisioner %s of StorageClass %s to provision a volume", cl.Name, cl.Provisioner, class)
	}
	return c
}

// ofContainer reads a container's state. init tells an init container,
// which blocks the pod until it exits 0.
func ofContainer(pod *corev1.Pod, s *corev1.ContainerStatus, init bool) (Cause, bool) {
	c := Cause{Pod: pod.Name}
	kind := "container"
	if init {
		kind = "init container"
	}
	last := s.LastTerminationState.Terminated
	if w := s.State.Waiting; w != nil {
		switch w.Reason {
		case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName":
			c.Reason, c.Stuck = ImagePull, true
			c.Message = fmt.Sprintf("%s %s: image %s cannot be pulled (%s: %s)", kind, s.Name, s.Image, w.Reason, oneLine(w.Message))
			return c, true
		case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
			c.Reason, c.Stuck = ContainerConfig, true
			c.Message = fmt.Sprintf("%s %s cannot start (%s: %s)", kind, s.Name, w.Reason, oneLine(w.Message))
			return c, true
		case "CrashLoopBackOff":
			c.Stuck = true
			return crashed(c, kind, s.Name, s.RestartCount, last), true
		}
	}
	if t := s.State.Terminated; t != nil && t.ExitCode != 0 {
		c.Stuck = s.RestartCount > 0
		return crashed(c, kind, s.Name, s.RestartCount, t), true
	}
	if init && s.State.Running == nil && s.State.Terminated == nil && last != nil && last.ExitCode != 0 {
		c.Stuck = true
		return crashed(c, kind, s.Name, s.RestartCount, last), true
	}
	if crashLooping(s) {
		// Between two CrashLoopBackOff waits the kubelet starts the
		// container again, and it runs, not ready, until it exits: still
		// the same crash loop, not a member starting.
		c.Stuck = true
		return crashed(c, kind, s.Name, s.RestartCount, last), true
	}
	return c, false
}

// crashLoopRestarts is how many restarts, the last one after a failure,
// make a running container that is not ready a crash loop rather than a
// container starting: one failed restart can be a one-off (a node
// reboot, a killed process); the kubelet's back-off begins with the second.
const crashLoopRestarts = 2

// crashLooping: the container runs but is not ready, has been restarted at
// least crashLoopRestarts times, and its last run ended in a failure (a
// non-zero exit code, or an OOM kill).
func crashLooping(s *corev1.ContainerStatus) bool {
	last := s.LastTerminationState.Terminated
	return s.State.Running != nil && !s.Ready && s.RestartCount >= crashLoopRestarts &&
		last != nil && (last.ExitCode != 0 || last.Reason == "OOMKilled")
}

// crashed describes a container that exited: OOM kills apart, with the exit
// code and the last line of its termination message (or of its log, when
// the kubelet copied it there: FallbackToLogsOnError).
func crashed(c Cause, kind, name string, restarts int32, t *corev1.ContainerStateTerminated) Cause {
	c.Reason = CrashLoop
	if kind == "init container" {
		c.Reason = InitFailed
	}
	if t == nil {
		c.Message = fmt.Sprintf("%s %s keeps exiting (%d restarts)", kind, name, restarts)
		return c
	}
	if t.Reason == "OOMKilled" {
		c.Reason = OOMKilled
		c.Message = fmt.Sprintf("%s %s was killed for exceeding its memory limit (OOMKilled, %d restarts)", kind, name, restarts)
		return c
	}
	c.Message = fmt.Sprintf("%s %s exited with code %d (%d restarts)", kind, name, t.ExitCode, restarts)
	if msg := lastLine(t.Message); msg != "" {
		c.Message += ": " + msg
	}
	return c
}

// Ready reports whether the pod's Ready condition is True.
func Ready(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Summary describes the pods that are not ready, most telling first (stuck
// pods before starting ones), in one line; empty when every pod is ready.
func Summary(pods []corev1.Pod) string {
	var causes []Cause
	for i := range pods {
		if c, ok := Of(&pods[i]); ok {
			causes = append(causes, c)
		}
	}
	sort.SliceStable(causes, func(i, j int) bool {
		if causes[i].Stuck != causes[j].Stuck {
			return causes[i].Stuck
		}
		return causes[i].Pod < causes[j].Pod
	})
	parts := make([]string, 0, len(causes))
	for _, c := range causes {
		parts = append(parts, c.String())
	}
	return strings.Join(parts, "; ")
}

// lastLine is the last non-empty line of s, shortened to maxMessage.
//
// A Go panic ends with its stack trace, whose last line names a source
// file: the line that says what happened is the one starting "panic: "
// (or "fatal error: " for a runtime fault), which is taken instead.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "panic: ") || strings.HasPrefix(t, "fatal error: ") {
			return oneLine(t)
		}
	}
	return oneLine(lines[len(lines)-1])
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		s = s[:maxMessage] + "…"
	}
	return s
}
