package v1alpha1

import (
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EtcdBackupScheduleSpec says when to back up a cluster, where to, and how
// many backups to keep.
type EtcdBackupScheduleSpec struct {
	// Schedule is a standard five-field cron expression (minute hour
	// day-of-month month day-of-week) or one of @yearly, @monthly, @weekly,
	// @daily, @hourly. The controller parses it and reports an invalid one
	// as Ready=False with reason InvalidSchedule.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[^ \\t]+([ \\t]+[^ \\t]+){4})$')",message="schedule must be five cron fields or @yearly, @monthly, @weekly, @daily or @hourly; set the time zone with timeZone"
	Schedule string `json:"schedule"`
	// TimeZone is the IANA name of the time zone the schedule is read in
	// (Europe/Berlin); UTC when unset.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone *string `json:"timeZone,omitempty"`
	// Suspend stops the creation of new backups; retention still applies.
	// When it is cleared, the most recent missed slot runs once, unless it
	// is older than startingDeadlineSeconds.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// StartingDeadlineSeconds: a slot missed by more than this (operator
	// down, previous backup still running) is skipped. Unset: a missed
	// slot runs late. Either way at most one backup is created per pass,
	// for the most recent slot: missed slots are never caught up one by one.
	// +kubebuilder:validation:Minimum=0
	// +optional
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`
	// BackupTemplate is the spec of every EtcdBackup the schedule creates.
	BackupTemplate EtcdBackupTemplate `json:"backupTemplate"`
	// Retention says which succeeded backups to expire: their stored
	// snapshot and manifest are deleted, then the EtcdBackup. Default:
	// keepLast 7.
	// +kubebuilder:default={keepLast: 7}
	// +optional
	Retention *BackupRetention `json:"retention,omitempty"`
	// SuccessfulBackupsHistoryLimit caps the number of succeeded EtcdBackups
	// kept, newest first. A succeeded EtcdBackup is the only record of its
	// snapshot, so one beyond the limit is expired like retention does
	// (snapshot deleted, then the object). Unset: retention alone decides.
	// +kubebuilder:validation:Minimum=1
	// +optional
	SuccessfulBackupsHistoryLimit *int32 `json:"successfulBackupsHistoryLimit,omitempty"`
	// FailedBackupsHistoryLimit is how many failed EtcdBackups to keep,
	// newest first. Older ones are deleted (they stored nothing).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=1
	// +optional
	FailedBackupsHistoryLimit *int32 `json:"failedBackupsHistoryLimit,omitempty"`
}

// EtcdBackupTemplate holds the fields of EtcdBackupSpec. It is a type of its
// own because EtcdBackupSpec is immutable, and a schedule's template is not.
type EtcdBackupTemplate struct {
	// ClusterName is the EtcdCluster in the same namespace.
	// +kubebuilder:validation:MinLength=1
	ClusterName string `json:"clusterName"`
	// Destination of the snapshots.
	Destination BackupLocation `json:"destination"`
	// Compression of the stored snapshots: gzip (default) or none.
	// +kubebuilder:validation:Enum=gzip;none
	// +kubebuilder:default=gzip
	// +optional
	Compression string `json:"compression,omitempty"`
	// EncryptionKey names a Secret key holding a 32-byte key (raw, hex or
	// base64): snapshots are encrypted with AES-256-GCM before upload.
	// +optional
	EncryptionKey *corev1.SecretKeySelector `json:"encryptionKey,omitempty"`
}

// BackupSpec is the spec of a backup made from the template.
func (t *EtcdBackupTemplate) BackupSpec() EtcdBackupSpec {
	out := EtcdBackupSpec{ClusterName: t.ClusterName, Compression: t.Compression}
	t.Destination.DeepCopyInto(&out.Destination)
	if t.EncryptionKey != nil {
		out.EncryptionKey = t.EncryptionKey.DeepCopy()
	}
	return out
}

// BackupRetention expires succeeded backups. With both fields set, a backup
// goes when either says so. The newest succeeded backup is never expired,
// however old it is: a schedule whose backups fail keeps its last good one.
// +kubebuilder:validation:XValidation:rule="has(self.keepLast) || has(self.maxAge)",message="retention needs keepLast, maxAge or both"
type BackupRetention struct {
	// KeepLast is how many succeeded backups to keep, newest first.
	// +kubebuilder:validation:Minimum=1
	// +optional
	KeepLast *int32 `json:"keepLast,omitempty"`
	// MaxAge expires succeeded backups completed longer ago than this
	// (a Go duration: 168h, 90m).
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="maxAge must be positive"
	// +optional
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// EtcdBackupScheduleStatus is what the schedule did last and will do next.
type EtcdBackupScheduleStatus struct {
	// ObservedGeneration is the generation the last successful pass saw.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastScheduleTime is the slot of the last backup created.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
	// LastSkippedTime is the last slot skipped: a backup was still running,
	// or the slot was missed by more than startingDeadlineSeconds.
	// +optional
	LastSkippedTime *metav1.Time `json:"lastSkippedTime,omitempty"`
	// NextScheduleTime is the next slot; unset while suspended or invalid.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
	// LastSuccessfulTime is when the newest succeeded backup completed.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`
	// LastSuccessfulBackup names the newest succeeded EtcdBackup.
	// +optional
	LastSuccessfulBackup string `json:"lastSuccessfulBackup,omitempty"`
	// Active names the EtcdBackup of this schedule still pending or running.
	// +optional
	Active string `json:"active,omitempty"`
}

// Label and annotation set on the EtcdBackups a schedule creates.
const (
	// LabelBackupSchedule selects the backups of a schedule; its value is
	// the schedule's name.
	LabelBackupSchedule = "etcd.quorum.dev/backup-schedule"
	// AnnotationScheduledAt is the slot (RFC 3339, UTC) a backup was made for.
	AnnotationScheduledAt = "etcd.quorum.dev/scheduled-at"
)

// BackupName is the EtcdBackup made for a slot: <schedule>-<unix seconds>,
// so a pass run twice finds the backup of a slot instead of making another.
func (s *EtcdBackupSchedule) BackupName(slot time.Time) string {
	return s.Name + "-" + strconv.FormatInt(slot.Unix(), 10)
}

// BackupLabels are set on every EtcdBackup of the schedule.
func (s *EtcdBackupSchedule) BackupLabels() map[string]string {
	return map[string]string{LabelBackupSchedule: s.Name, LabelManagedBy: ManagedByValue}
}

// EtcdBackupSchedule creates an EtcdBackup of a cluster on a cron schedule
// and expires old ones. Its name is at most 52 characters, so that backup
// names (<schedule>-<unix time>) fit in a label value.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=etcdbackupschedule,categories=quorum
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 52",message="the name of an EtcdBackupSchedule is at most 52 characters"
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.backupTemplate.clusterName`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Active",type=string,JSONPath=`.status.active`
// +kubebuilder:printcolumn:name="Last Success",type=date,JSONPath=`.status.lastSuccessfulTime`
// +kubebuilder:printcolumn:name="Next",type=string,JSONPath=`.status.nextScheduleTime`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EtcdBackupSchedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   EtcdBackupScheduleSpec   `json:"spec"`
	Status EtcdBackupScheduleStatus `json:"status,omitempty"`
}

// EtcdBackupScheduleList is a list of EtcdBackupSchedules.
// +kubebuilder:object:root=true
type EtcdBackupScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EtcdBackupSchedule `json:"items"`
}

func init() {
	SchemeBuilder.Register(&EtcdBackupSchedule{}, &EtcdBackupScheduleList{})
}
