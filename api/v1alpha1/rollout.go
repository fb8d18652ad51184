package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// RolloutStatus is what the operator remembers of the rollout of the
// members' pod template across passes and operator restarts.
type RolloutStatus struct {
	// Stuck is the change whose rollout halted (Progressing=False,
	// reason RolloutStuck) and was rolled back: while the spec still
	// renders the same pod template, the StatefulSet keeps the last
	// healthy one. Cleared once the spec renders another template (a
	// revert or a fix). Absent when no rollout is stuck.
	// +optional
	Stuck *StuckRollout `json:"stuck,omitempty"`
}

// StuckRollout records a rollout halted because a member restarted with
// the new pod template did not become and stay ready within
// spec.rollout.progressDeadlineSeconds, and rolled back.
type StuckRollout struct {
	// TemplateHash is the digest (16 hex digits) of the pod template the
	// spec rendered when the rollout halted, before any rollback: while
	// the spec renders the same one, it is not written to the StatefulSet
	// again.
	TemplateHash string `json:"templateHash"`
	// Pod is the member pod, restarted with the new template, that did not
	// become ready.
	Pod string `json:"pod"`
	// Message says what happened to Pod, with the cause Kubernetes
	// reported (an OOM kill, a crash loop with its termination message,
	// an image pull error, no node).
	Message string `json:"message"`
	// Revision names the StatefulSet's ControllerRevision (apps/v1) whose
	// pod template the healthy members ran, which the StatefulSet was
	// given back; empty when none was found (the template is then left as
	// it is).
	// +optional
	Revision string `json:"revision,omitempty"`
	// Since is when the rollout halted.
	Since metav1.Time `json:"since"`
}

// StuckRollout returns the recorded stuck rollout, or nil.
func (c *EtcdCluster) StuckRollout() *StuckRollout {
	if c.Status.Rollout == nil {
		return nil
	}
	return c.Status.Rollout.Stuck
}
