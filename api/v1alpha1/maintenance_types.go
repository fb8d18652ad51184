package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationDefragment asks for one defragmentation of every member: set it
// to a new value (a timestamp, a ticket number) and the operator
// defragments each member once, then records the value in
// status.defragmentation.handledRequest. Setting the same value again does
// nothing.
const AnnotationDefragment = "etcd.quorum.dev/defragment"

// DefragmentationSpec says when members are defragmented. Defragmentation
// returns to the file system the pages that compaction freed inside the
// database file (etcd op-guide/maintenance). It blocks the member being
// defragmented, so the operator does one member at a time, health-gated,
// followers first and the leader last after moving its leadership, and
// never during a rollout, a restore or a membership change. Recovery from
// the NOSPACE alarm defragments whatever this says.
// +kubebuilder:validation:XValidation:rule="!has(self.timeZone) || has(self.schedule)",message="spec.defragmentation.timeZone needs spec.defragmentation.schedule"
type DefragmentationSpec struct {
	// Schedule in cron format (five fields, or @daily, @weekly…): every
	// member is defragmented once at each time it names. Empty: none on a
	// schedule.
	// +kubebuilder:validation:MaxLength=100
	// +optional
	Schedule string `json:"schedule,omitempty"`
	// TimeZone of the schedule, an IANA name (Europe/Berlin); UTC when unset.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone *string `json:"timeZone,omitempty"`
	// FreeablePercent: a member whose freeable share of the database file,
	// (dbSize − dbSizeInUse) / dbSize, reaches this percentage is
	// defragmented. Unset: no percentage threshold.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=99
	// +optional
	FreeablePercent *int32 `json:"freeablePercent,omitempty"`
	// FreeableBytes: a member whose freeable bytes (dbSize − dbSizeInUse)
	// reach this size is defragmented. Unset: no size threshold.
	// +optional
	FreeableBytes *resource.Quantity `json:"freeableBytes,omitempty"`
	// MinDBSize: thresholds apply only to members whose database file is
	// at least this large, so small databases are left alone. Default 64Mi.
	// +optional
	MinDBSize *resource.Quantity `json:"minDBSize,omitempty"`
}

// Why a defragmentation round runs.
const (
	DefragTriggerNoSpace   = "NoSpace"
	DefragTriggerSchedule  = "Schedule"
	DefragTriggerThreshold = "Threshold"
	DefragTriggerRequest   = "Request"
)

// DefragmentationStatus records the defragmentation the operator does.
type DefragmentationStatus struct {
	// Trigger of the round in progress: NoSpace, Schedule, Threshold or
	// Request. Empty when no round is in progress.
	// +optional
	Trigger string `json:"trigger,omitempty"`
	// Pending lists the members still to defragment in this round, in
	// order (followers first, the leader last).
	// +optional
	Pending []string `json:"pending,omitempty"`
	// CompactedRevision is the revision a NOSPACE recovery compacted to.
	// +optional
	CompactedRevision int64 `json:"compactedRevision,omitempty"`
	// LastScheduleTime is the last schedule slot handled.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
	// HandledRequest is the last value of the etcd.quorum.dev/defragment
	// annotation acted on.
	// +optional
	HandledRequest string `json:"handledRequest,omitempty"`
	// Members: the last defragmentation of each member.
	// +optional
	Members []MemberDefragmentation `json:"members,omitempty"`
}

// MemberDefragmentation is one member's last defragmentation.
type MemberDefragmentation struct {
	// Name of the member (its pod).
	Name string `json:"name"`
	// Time the defragmentation ended.
	Time metav1.Time `json:"time"`
	// Trigger: NoSpace, Schedule, Threshold or Request.
	Trigger string `json:"trigger,omitempty"`
	// SizeBefore and SizeAfter: the database file, in bytes.
	SizeBefore int64 `json:"sizeBefore"`
	SizeAfter  int64 `json:"sizeAfter"`
}
