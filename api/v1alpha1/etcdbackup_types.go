package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EtcdBackupSpec says which cluster to back up and where to: an
// EtcdCluster of this operator (clusterName) or any etcd reachable by its
// client URLs (external), exactly one of them.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="an EtcdBackup is immutable: create a new one"
// +kubebuilder:validation:XValidation:rule="has(self.clusterName) != has(self.external)",message="set exactly one of clusterName (an EtcdCluster in this namespace) and external (an etcd this operator does not manage)"
type EtcdBackupSpec struct {
	// ClusterName is the EtcdCluster in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +optional
	ClusterName string `json:"clusterName,omitempty"`
	// External is an etcd cluster this operator does not manage, reached
	// by its client URLs: the way to take a snapshot of an existing etcd and
	// start an EtcdCluster from it (spec.bootstrap.restore).
	// +optional
	External *ExternalEtcd `json:"external,omitempty"`
	// Destination of the snapshot.
	Destination BackupLocation `json:"destination"`
	// Compression of the stored snapshot: zstd (default; Zstandard, fast
	// at a ratio like gzip's), gzip, or none (the raw file `etcdutl
	// snapshot restore` reads). Backups of every value restore; objects
	// made before zstd was the default are gzip.
	// +kubebuilder:validation:Enum=zstd;gzip;none
	// +kubebuilder:default=zstd
	// +optional
	Compression string `json:"compression,omitempty"`
	// EncryptionKey names a Secret key holding a 32-byte key (raw, hex or
	// base64): the snapshot is encrypted with AES-256-GCM before upload.
	// +optional
	EncryptionKey *corev1.SecretKeySelector `json:"encryptionKey,omitempty"`
}

// BackupLocation is an S3-compatible bucket or a PersistentVolumeClaim.
// +kubebuilder:validation:XValidation:rule="has(self.s3) != has(self.pvc)",message="exactly one of s3 and pvc must be set"
type BackupLocation struct {
	// +optional
	S3 *S3Location `json:"s3,omitempty"`
	// +optional
	PVC *PVCLocation `json:"pvc,omitempty"`
}

// S3Location is a bucket and prefix on an S3-compatible server, and how
// pods get credentials for it: exactly one of credentialsSecretName
// (static keys), webIdentity (a service account token exchanged at STS)
// and instanceRole (the node's or pod's cloud identity).
// +kubebuilder:validation:XValidation:rule="[has(self.credentialsSecretName), has(self.webIdentity), has(self.instanceRole)].exists_one(x, x)",message="set exactly one of credentialsSecretName (a Secret with static keys), webIdentity (a service account token exchanged at STS) and instanceRole (the cloud identity of the node or pod)"
type S3Location struct {
	// Endpoint is host or host:port of the server, without a scheme: https
	// unless insecure is true.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=261
	// +kubebuilder:validation:XValidation:rule="!self.contains('://')",messageExpression="'endpoint ' + self + ' has a scheme: write host[:port]; https is used unless insecure is true (set insecure: true for plain http)'"
	// +kubebuilder:validation:XValidation:rule="self.contains('://') || self.matches('^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?([.][A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*|[[][0-9A-Fa-f:.]+[]])(:[0-9]{1,5})?$')",messageExpression="'endpoint ' + self + ' must be host or host:port (a DNS name or IP address), without a path'"
	// +kubebuilder:validation:XValidation:rule="!self.matches(':[0-9]+$') || (int(self.substring(self.lastIndexOf(':') + 1)) >= 1 && int(self.substring(self.lastIndexOf(':') + 1)) <= 65535)",messageExpression="'endpoint ' + self + ' has port ' + self.substring(self.lastIndexOf(':') + 1) + ': a port is 1-65535'"
	Endpoint string `json:"endpoint"`
	// Bucket is an S3 bucket name: 3-63 lowercase letters, digits, dots and
	// hyphens, starting and ending with a letter or digit (the AWS bucket
	// naming rules, which S3-compatible servers such as MinIO apply too).
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9][a-z0-9.-]*[a-z0-9]$')",messageExpression="'bucket ' + self + ' is not an S3 bucket name: use 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit (AWS bucket naming rules)'"
	Bucket string `json:"bucket"`
	// Prefix of the object keys.
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// Region of the bucket, if the server needs one.
	// +optional
	Region string `json:"region,omitempty"`
	// Insecure uses plain http.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// CredentialsSecretName names a Secret with static keys:
	// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and AWS_SESSION_TOKEN
	// when the keys are temporary (STS credentials; they stop working
	// when the token expires, and the Secret must then be updated).
	// +kubebuilder:validation:MinLength=1
	// +optional
	CredentialsSecretName string `json:"credentialsSecretName,omitempty"`
	// WebIdentity exchanges a Kubernetes service account token for
	// temporary credentials at an STS endpoint (AssumeRoleWithWebIdentity:
	// IAM roles for service accounts on EKS, or any STS trusting the
	// cluster's service account issuer, such as MinIO with OpenID).
	// +optional
	WebIdentity *S3WebIdentity `json:"webIdentity,omitempty"`
	// InstanceRole takes credentials from the environment the pod runs
	// in: EKS Pod Identity (the AWS_CONTAINER_CREDENTIALS_FULL_URI its
	// webhook injects into pods of an associated service account), else
	// the EC2 instance metadata service (the node's instance profile).
	// +optional
	InstanceRole *S3InstanceRole `json:"instanceRole,omitempty"`
	// CA names a Secret key with the CA bundle of the server, when it is
	// not signed by a public CA.
	// +optional
	CA *corev1.SecretKeySelector `json:"ca,omitempty"`
}

// DefaultWebIdentityAudience is the audience of the projected service
// account token of webIdentity when none is given: the one AWS STS expects.
const DefaultWebIdentityAudience = "sts.amazonaws.com"

// S3WebIdentity is a service account whose token is exchanged for
// temporary S3 credentials (STS AssumeRoleWithWebIdentity). Pods that
// reach the bucket (backup, verify and prune Jobs, and the restore init
// container of members) run as ServiceAccountName with the token
// projected at a fixed path; quorum-etcd exchanges it again before the
// credentials expire.
type S3WebIdentity struct {
	// ServiceAccountName is the ServiceAccount, in the namespace of the
	// resource, the pods run as; its token is what STS checks.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ServiceAccountName string `json:"serviceAccountName"`
	// RoleARN is the role to assume (AWS: arn:aws:iam::<account>:role/<name>).
	// Optional for servers that map the token's claims to a policy
	// themselves (MinIO with a claim-based OpenID provider).
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	RoleARN string `json:"roleARN,omitempty"`
	// Audience of the projected token: sts.amazonaws.com unless set.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Audience string `json:"audience,omitempty"`
	// STSEndpoint is the URL of the STS (https://..., or http:// for a
	// test server). Unset: AWS STS, https://sts.<region>.amazonaws.com
	// with region set, else https://sts.amazonaws.com.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",messageExpression="'stsEndpoint ' + self + ' must be an http:// or https:// URL'"
	// +optional
	STSEndpoint string `json:"stsEndpoint,omitempty"`
	// ExpirationSeconds of the projected token; the kubelet renews it at
	// 80% of its life. Default 3600; at least 600 (the API server's minimum).
	// +kubebuilder:validation:Minimum=600
	// +optional
	ExpirationSeconds *int64 `json:"expirationSeconds,omitempty"`
}

// S3InstanceRole takes S3 credentials from the pod's environment (EKS Pod
// Identity, or the EC2 instance metadata service).
type S3InstanceRole struct {
	// ServiceAccountName, when set, is the ServiceAccount the pods that
	// reach the bucket run as (EKS Pod Identity associates a role with a
	// service account). Unset: the namespace's default, without a token.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// Endpoint of the instance metadata service, an http:// URL: the EC2
	// one (http://169.254.169.254) unless set.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",messageExpression="'endpoint ' + self + ' must be an http:// or https:// URL'"
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
}

// PVCLocation is a directory on a PersistentVolumeClaim.
type PVCLocation struct {
	// +kubebuilder:validation:MinLength=1
	ClaimName string `json:"claimName"`
	// Prefix is a directory inside the claim.
	// +optional
	Prefix string `json:"prefix,omitempty"`
}

// BackupPhase is where a backup is in its life.
type BackupPhase string

// DefaultBackupCompression is spec.compression when it is not set (the
// +kubebuilder:default of EtcdBackupSpec and EtcdBackupTemplate).
const DefaultBackupCompression = "zstd"

// Backup phases.
const (
	BackupPending   BackupPhase = "Pending"
	BackupRunning   BackupPhase = "Running"
	BackupSucceeded BackupPhase = "Succeeded"
	BackupFailed    BackupPhase = "Failed"
)

// EtcdBackupStatus is what the backup produced.
type EtcdBackupStatus struct {
	// +optional
	Phase BackupPhase `json:"phase,omitempty"`
	// Conditions: Complete, Failed.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// JobName runs the backup.
	// +optional
	JobName string `json:"jobName,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Location of the snapshot: s3://bucket/key or file://path.
	// +optional
	Location string `json:"location,omitempty"`
	// Key of the snapshot object (bucket or claim relative).
	// +optional
	Key string `json:"key,omitempty"`
	// Size of the raw snapshot in bytes: what `etcdutl snapshot restore`
	// reads, before compression and encryption.
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`
	// StoredSize is the size in bytes of the stored object (after
	// compression and encryption): what the bucket or claim holds.
	// +optional
	StoredSize *resource.Quantity `json:"storedSize,omitempty"`
	// SHA256 of the raw snapshot, hex.
	// +optional
	SHA256 string `json:"sha256,omitempty"`
	// Revision: every write up to it is in the snapshot.
	// +optional
	Revision int64 `json:"revision,omitempty"`
	// +optional
	ClusterID string `json:"clusterID,omitempty"`
	// +optional
	EtcdVersion string `json:"etcdVersion,omitempty"`
}

// EtcdBackup is one snapshot of an EtcdCluster.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=etcdbackup,categories=quorum
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="External",type=string,JSONPath=`.spec.external.endpoints[0]`,description="first client URL of an external source",priority=1
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Revision",type=integer,JSONPath=`.status.revision`
// +kubebuilder:printcolumn:name="Snapshot Size",type=string,JSONPath=`.status.size`,description="size of the raw snapshot, before compression and encryption"
// +kubebuilder:printcolumn:name="Stored Size",type=string,JSONPath=`.status.storedSize`,description="size of the stored object, after compression and encryption",priority=1
// +kubebuilder:printcolumn:name="Location",type=string,JSONPath=`.status.location`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EtcdBackup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   EtcdBackupSpec   `json:"spec"`
	Status EtcdBackupStatus `json:"status,omitempty"`
}

// EtcdBackupList is a list of EtcdBackups.
// +kubebuilder:object:root=true
type EtcdBackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EtcdBackup `json:"items"`
}

func init() {
	SchemeBuilder.Register(&EtcdBackup{}, &EtcdBackupList{})
}
