package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EtcdRestoreSpec names a running cluster and the snapshot to put back
// into it. The snapshot is verified first; only then are the members
// stopped and every one restored from it, with a new cluster ID, under the
// same name, Services and certificates.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="an EtcdRestore is immutable: create a new one"
// +kubebuilder:validation:XValidation:rule="[has(self.backupName), has(self.source), has(self.fromSurvivor)].filter(x, x).size() == 1",message="exactly one of backupName, source and fromSurvivor must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.source) || has(self.key)",message="source needs key"
// +kubebuilder:validation:XValidation:rule="!has(self.backupName) || !has(self.key)",message="backupName and key are exclusive: key names a snapshot in source, backupName restores the snapshot of that EtcdBackup; pick one"
// +kubebuilder:validation:XValidation:rule="!has(self.backupName) || !has(self.encryptionKey)",message="encryptionKey applies to source only: a backup's own key is used with backupName"
// +kubebuilder:validation:XValidation:rule="!has(self.skipHashCheck) || !self.skipHashCheck || has(self.source)",message="skipHashCheck applies to source only: the snapshot of an EtcdBackup always carries etcd's hash"
type EtcdRestoreSpec struct {
	// ClusterName is the EtcdCluster in the same namespace.
	// +kubebuilder:validation:MinLength=1
	ClusterName string `json:"clusterName"`
	// BackupName is a Succeeded EtcdBackup in the same namespace.
	// +optional
	BackupName string `json:"backupName,omitempty"`
	// Source is where a snapshot is stored, for snapshots without an
	// EtcdBackup.
	// +optional
	Source *BackupLocation `json:"source,omitempty"`
	// Key of the snapshot in Source: a Quorum backup with its manifest
	// <key>.manifest.json, or, without a manifest, the raw file of
	// `etcdctl snapshot save` (checked with the SHA-256 etcd appends to it
	// and the storage version recorded in it).
	// +kubebuilder:validation:MinLength=1
	// +optional
	Key string `json:"key,omitempty"`
	// EncryptionKey decrypts an encrypted snapshot from Source.
	// +optional
	EncryptionKey *corev1.SecretKeySelector `json:"encryptionKey,omitempty"`
	// SkipHashCheck restores a snapshot that has no etcd hash (a copy of a
	// member's member/snap/db); see the bootstrap RestoreSpec. The
	// verification Job then cannot detect damage, and the members are
	// stopped for a file that may restore wrong data. Source only.
	// +optional
	SkipHashCheck bool `json:"skipHashCheck,omitempty"`
	// FromSurvivor recovers a cluster that lost quorum without a backup:
	// the most up-to-date member still running (or the one named) is
	// restarted once with etcd's --force-new-cluster and becomes a
	// one-member cluster holding all its data; the other members' data
	// dirs are set aside and they join it again as new members. Writes
	// that only the lost members had are gone. Refused while the cluster
	// has quorum.
	// +optional
	FromSurvivor *SurvivorSource `json:"fromSurvivor,omitempty"`
}

// SurvivorSource names the member to keep, or lets the operator choose.
type SurvivorSource struct {
	// Member is the member (pod) name to keep; empty picks the member with
	// the highest raft index among those that answer.
	// +optional
	Member string `json:"member,omitempty"`
}

// RestorePhase is where an in-place restore is in its life.
type RestorePhase string

// Restore phases. Failed before Restoring means the cluster was not
// touched.
const (
	RestorePending   RestorePhase = "Pending"
	RestoreVerifying RestorePhase = "Verifying"
	RestoreRestoring RestorePhase = "Restoring"
	RestoreSucceeded RestorePhase = "Succeeded"
	RestoreFailed    RestorePhase = "Failed"
)

// EtcdRestoreStatus reports the restore.
type EtcdRestoreStatus struct {
	// +optional
	Phase RestorePhase `json:"phase,omitempty"`
	// Conditions: Complete, Failed.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// RestoreID identifies this restore in the members' data dirs.
	// +optional
	RestoreID string `json:"restoreID,omitempty"`
	// JobName verifies the snapshot before the cluster is stopped.
	// +optional
	JobName string `json:"jobName,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Location of the snapshot.
	// +optional
	Location string `json:"location,omitempty"`
	// SHA256 of the raw snapshot, as verified.
	// +optional
	SHA256 string `json:"sha256,omitempty"`
	// SnapshotRevision is the revision of the snapshot; the restored
	// cluster starts well above it (see the bootstrap restore).
	// +optional
	SnapshotRevision int64 `json:"snapshotRevision,omitempty"`
	// ClusterID of the restored cluster, hex.
	// +optional
	ClusterID string `json:"clusterID,omitempty"`
	// Survivor is the member kept by a fromSurvivor recovery.
	// +optional
	Survivor string `json:"survivor,omitempty"`
}

// EtcdRestore puts a snapshot back into an existing EtcdCluster, in place,
// for example after the cluster lost quorum.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=etcdrestore,categories=quorum
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Revision",type=integer,JSONPath=`.status.snapshotRevision`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EtcdRestore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   EtcdRestoreSpec   `json:"spec"`
	Status EtcdRestoreStatus `json:"status,omitempty"`
}

// EtcdRestoreList is a list of EtcdRestores.
// +kubebuilder:object:root=true
type EtcdRestoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EtcdRestore `json:"items"`
}

func init() {
	SchemeBuilder.Register(&EtcdRestore{}, &EtcdRestoreList{})
}
