package v1alpha1

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EtcdClusterSpec is the desired state of an etcd cluster.
//
// The objects holding transition rules (storage, tls, auth) default to {},
// so that their own defaults are stored and the rules compare with them
// whether or not the user wrote the object.
// +kubebuilder:validation:XValidation:rule="(has(self.quota) && has(self.quota.backendBytes)) || !has(self.storage) || !has(self.storage.size) || !isQuantity(string(self.storage.size)) || quantity(string(self.storage.size)).compareTo(quantity('448Mi')) >= 0 || (oldSelf.hasValue() && has(oldSelf.value().storage) && has(oldSelf.value().storage.size) && oldSelf.value().storage.size == self.storage.size)",optionalOldSelf=true,fieldPath=".storage.size",messageExpression="'storage.size ' + string(self.storage.size) + ' leaves no room for the derived quota: it is at least 64Mi and 384Mi of the volume are kept for the WAL, so the size must be at least 448Mi (or set quota.backendBytes to at most the size less 384Mi)'"
// +kubebuilder:validation:XValidation:rule="has(self.bootstrap) == has(oldSelf.bootstrap)",message="bootstrap is immutable: it is set when the cluster is created"
// +kubebuilder:validation:XValidation:rule="!has(self.quota) || !has(self.quota.backendBytes) || !has(self.storage) || !has(self.storage.size) || !isQuantity(string(self.quota.backendBytes)) || !isQuantity(string(self.storage.size)) || (oldSelf.hasValue() && has(oldSelf.value().quota) && has(oldSelf.value().quota.backendBytes) && oldSelf.value().quota.backendBytes == self.quota.backendBytes) || quantity(string(self.quota.backendBytes)).compareTo(quantity(string(self.storage.size)).sub(quantity('384Mi'))) <= 0",optionalOldSelf=true,fieldPath=".quota.backendBytes",messageExpression="'quota.backendBytes ' + string(self.quota.backendBytes) + ' does not fit storage.size ' + string(self.storage.size) + ': it may be at most the size less 384Mi kept for the WAL; leave it unset to derive it from the size'"
type EtcdClusterSpec struct {
	// Replicas is the number of etcd members. Odd numbers tolerate the same
	// number of failures as the next even number and are recommended.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Version is the etcd version of the bundled server image, e.g. "3.7.3".
	// Upgrades go one minor version at a time, counted from the previous
	// spec and from what each member runs (status.members[].version), so
	// a blocked 3.7→3.8 cannot be followed by 3.9. Minor downgrades are
	// refused once no member runs the older minor: etcd moves the cluster
	// version only when every member runs the newer one (etcd's "upgrade
	// and downgrade" docs), so until then going back, the revert of a
	// blocked or stuck upgrade, is safe and allowed. Patch versions may go
	// either way. Members restart one at a time, leader last.
	// +kubebuilder:default="3.7.3"
	// +kubebuilder:validation:Pattern=`^3\.[0-9]{1,3}\.[0-9]{1,4}$`
	// +kubebuilder:validation:MaxLength=10
	// +optional
	Version string `json:"version,omitempty"`

	// Storage describes where members keep their data.
	// +kubebuilder:default={}
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`

	// Resources of the etcd container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// PodTemplate holds overrides for the member pods.
	// +optional
	PodTemplate PodTemplate `json:"podTemplate,omitempty"`

	// EtcdOptions are extra etcd configuration options, keyed by etcd's
	// config-file names without the leading dashes (for example
	// "snapshot-count": "10000"). Only options of the bundled etcd version
	// are accepted, and not those the operator controls (names, URLs,
	// cluster membership, data directory, TLS, logging outputs; quota and
	// compaction have their own fields). Values are strings: "true" or
	// "false" for switches (checked here), whole numbers for numbers and
	// durations in nanoseconds (checked by the server when it starts).
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('-'))",messageExpression="'etcdOptions key ' + self.filter(k, k.startsWith('-'))[0] + ' starts with a dash: write etcd config-file names without leading dashes (snapshot-count, not --snapshot-count)'"
	// +quorum:generated:begin=etcdOptions
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['advertise-client-urls','auth-token','auth-token-ttl','auto-compaction-mode','auto-compaction-retention','auto-tls','cert-file','client-cert-auth','client-transport-security','data-dir','discovery','discovery-config','discovery-srv','discovery-srv-name','enable-log-rotation','force-new-cluster','initial-advertise-peer-urls','initial-cluster','initial-cluster-state','initial-cluster-token','key-file','listen-client-http-urls','listen-client-urls','listen-metrics-urls','listen-peer-urls','log-format','log-outputs','log-rotation-config-json','logger','name','peer-auto-tls','peer-cert-file','peer-client-cert-auth','peer-key-file','peer-transport-security','peer-trusted-ca-file','quota-backend-bytes','self-signed-cert-validity','trusted-ca-file','wal-dir']))",messageExpression="'etcdOptions may not set options the operator controls: ' + ('advertise-client-urls' in self ? 'advertise-client-urls: listen and advertise URLs are derived from the pod and the peer Service; ' : '') + ('auth-token' in self ? 'auth-token: set with spec.auth.token (type jwt or simple, and ttl); quorum-etcd reads it from QUORUM_AUTH_TOKEN; ' : '') + ('auth-token-ttl' in self ? 'auth-token-ttl: set with spec.auth.token (type jwt or simple, and ttl); quorum-etcd reads it from QUORUM_AUTH_TOKEN; ' : '') + ('auto-compaction-mode' in self ? 'auto-compaction-mode: set with spec.compaction.mode; ' : '') + ('auto-compaction-retention' in self ? 'auto-compaction-retention: set with spec.compaction.retention; ' : '') + ('auto-tls' in self ? 'auto-tls: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('cert-file' in self ? 'cert-file: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('client-cert-auth' in self ? 'client-cert-auth: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('client-transport-security' in self ? 'client-transport-security: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('data-dir' in self ? 'data-dir: derived from the pod (name, data directory); ' : '') + ('discovery' in self ? 'discovery: bootstrap is decided by quorum-etcd from the data dir and the operator\\'s environment; ' : '') + ('discovery-config' in self ? 'discovery-config: bootstrap is decided by quorum-etcd from the data dir and the operator\\'s environment; ' : '') + ('discovery-srv' in self ? 'discovery-srv: bootstrap is decided by quorum-etcd from the data dir and the operator\\'s environment; ' : '') + ('discovery-srv-name' in self ? 'discovery-srv-name: bootstrap is decided by quorum-etcd from the data dir and the operator\\'s environment; ' : '') + ('enable-log-rotation' in self ? 'enable-log-rotation: logs are always JSON on stderr; only log-level may be set; ' : '') + ('force-new-cluster' in self ? 'force-new-cluster: unsafe for a member managed by the operator (use the restore subcommand); ' : '') + ('initial-advertise-peer-urls' in self ? 'initial-advertise-peer-urls: listen and advertise URLs are derived from the pod and the peer Service; ' : '') + ('initial-cluster' in self ? 'initial-cluster: bootstrap is decided by quorum-etcd from the data dir and the operator\\'s environment; ' : '') + ('initial-cluster-state' in self ? 'initial-cluster-state: bootstrap is decided by quorum-etcd from the data dir and the operator\\'s environment; ' : '') + ('initial-cluster-token' in self ? 'initial-cluster-token: bootstrap is decided by quorum-etcd from the data dir and the operator\\'s environment; ' : '') + ('key-file' in self ? 'key-file: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('listen-client-http-urls' in self ? 'listen-client-http-urls: listen and advertise URLs are derived from the pod and the peer Service; ' : '') + ('listen-client-urls' in self ? 'listen-client-urls: listen and advertise URLs are derived from the pod and the peer Service; ' : '') + ('listen-metrics-urls' in self ? 'listen-metrics-urls: listen and advertise URLs are derived from the pod and the peer Service; ' : '') + ('listen-peer-urls' in self ? 'listen-peer-urls: listen and advertise URLs are derived from the pod and the peer Service; ' : '') + ('log-format' in self ? 'log-format: logs are always JSON on stderr; only log-level may be set; ' : '') + ('log-outputs' in self ? 'log-outputs: logs are always JSON on stderr; only log-level may be set; ' : '') + ('log-rotation-config-json' in self ? 'log-rotation-config-json: logs are always JSON on stderr; only log-level may be set; ' : '') + ('logger' in self ? 'logger: logs are always JSON on stderr; only log-level may be set; ' : '') + ('name' in self ? 'name: derived from the pod (name, data directory); ' : '') + ('peer-auto-tls' in self ? 'peer-auto-tls: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('peer-cert-file' in self ? 'peer-cert-file: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('peer-client-cert-auth' in self ? 'peer-client-cert-auth: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('peer-key-file' in self ? 'peer-key-file: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('peer-transport-security' in self ? 'peer-transport-security: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('peer-trusted-ca-file' in self ? 'peer-trusted-ca-file: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('quota-backend-bytes' in self ? 'quota-backend-bytes: set with spec.quota.backendBytes; ' : '') + ('self-signed-cert-validity' in self ? 'self-signed-cert-validity: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('trusted-ca-file' in self ? 'trusted-ca-file: certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR; ' : '') + ('wal-dir' in self ? 'wal-dir: derived from the pod (name, data directory); ' : '') + 'remove them from spec.etcdOptions'"
	// +kubebuilder:validation:XValidation:rule="!self.exists(k, !k.startsWith('-') && !(k in ['advertise-client-urls','auth-token','auth-token-ttl','auto-compaction-mode','auto-compaction-retention','auto-tls','cert-file','client-cert-auth','client-transport-security','data-dir','discovery','discovery-config','discovery-srv','discovery-srv-name','enable-log-rotation','force-new-cluster','initial-advertise-peer-urls','initial-cluster','initial-cluster-state','initial-cluster-token','key-file','listen-client-http-urls','listen-client-urls','listen-metrics-urls','listen-peer-urls','log-format','log-outputs','log-rotation-config-json','logger','name','peer-auto-tls','peer-cert-file','peer-client-cert-auth','peer-key-file','peer-transport-security','peer-trusted-ca-file','quota-backend-bytes','self-signed-cert-validity','trusted-ca-file','wal-dir']) && !(k in ['backend-batch-interval','backend-batch-limit','backend-bbolt-freelist-type','bcrypt-cost','bootstrap-defrag-threshold-megabytes','compact-hash-check-time','compaction-batch-limit','compaction-sleep-interval','corrupt-check-time','cors','distributed-tracing-address','distributed-tracing-instance-id','distributed-tracing-sampling-rate','distributed-tracing-service-name','downgrade-check-time','election-timeout','enable-distributed-tracing','enable-grpc-gateway','enable-pprof','feature-gates','grpc-keepalive-interval','grpc-keepalive-min-time','grpc-keepalive-timeout','heartbeat-interval','host-whitelist','initial-election-tick-advance','log-level','max-concurrent-streams','max-learners','max-request-bytes','max-snapshots','max-txn-ops','max-wals','memory-mlock','metrics','pre-vote','snapshot-catchup-entries','snapshot-count','strict-reconfig-check','tls-max-version','tls-min-version','unsafe-no-fsync','v2-deprecation','warning-apply-duration','warning-unary-request-duration','watch-progress-notify-interval']))",messageExpression="'etcdOptions key ' + self.filter(k, !k.startsWith('-') && !(k in ['advertise-client-urls','auth-token','auth-token-ttl','auto-compaction-mode','auto-compaction-retention','auto-tls','cert-file','client-cert-auth','client-transport-security','data-dir','discovery','discovery-config','discovery-srv','discovery-srv-name','enable-log-rotation','force-new-cluster','initial-advertise-peer-urls','initial-cluster','initial-cluster-state','initial-cluster-token','key-file','listen-client-http-urls','listen-client-urls','listen-metrics-urls','listen-peer-urls','log-format','log-outputs','log-rotation-config-json','logger','name','peer-auto-tls','peer-cert-file','peer-client-cert-auth','peer-key-file','peer-transport-security','peer-trusted-ca-file','quota-backend-bytes','self-signed-cert-validity','trusted-ca-file','wal-dir']) && !(k in ['backend-batch-interval','backend-batch-limit','backend-bbolt-freelist-type','bcrypt-cost','bootstrap-defrag-threshold-megabytes','compact-hash-check-time','compaction-batch-limit','compaction-sleep-interval','corrupt-check-time','cors','distributed-tracing-address','distributed-tracing-instance-id','distributed-tracing-sampling-rate','distributed-tracing-service-name','downgrade-check-time','election-timeout','enable-distributed-tracing','enable-grpc-gateway','enable-pprof','feature-gates','grpc-keepalive-interval','grpc-keepalive-min-time','grpc-keepalive-timeout','heartbeat-interval','host-whitelist','initial-election-tick-advance','log-level','max-concurrent-streams','max-learners','max-request-bytes','max-snapshots','max-txn-ops','max-wals','memory-mlock','metrics','pre-vote','snapshot-catchup-entries','snapshot-count','strict-reconfig-check','tls-max-version','tls-min-version','unsafe-no-fsync','v2-deprecation','warning-apply-duration','warning-unary-request-duration','watch-progress-notify-interval']))[0] + ' is not in the allow-list of etcd 3.7.3 configuration options (the list of the bundled etcd, applied whatever spec.version says; use etcd config-file names, e.g. snapshot-count; the experimental- names of etcd 3.6 are not accepted)'"
	// +kubebuilder:validation:XValidation:rule="!self.exists(k, k in ['enable-distributed-tracing','enable-grpc-gateway','enable-pprof','initial-election-tick-advance','memory-mlock','pre-vote','strict-reconfig-check','unsafe-no-fsync'] && !(self[k] in ['true','false']))",messageExpression="'etcdOptions key ' + self.filter(k, k in ['enable-distributed-tracing','enable-grpc-gateway','enable-pprof','initial-election-tick-advance','memory-mlock','pre-vote','strict-reconfig-check','unsafe-no-fsync'] && !(self[k] in ['true','false']))[0] + ' must be true or false'"
	// +quorum:generated:end
	// +optional
	EtcdOptions map[string]string `json:"etcdOptions,omitempty"`

	// Quota is the backend database size limit: by default derived from
	// storage.size (see QuotaSpec).
	// +optional
	Quota QuotaSpec `json:"quota,omitempty"`

	// Compaction controls automatic history compaction.
	// +optional
	Compaction CompactionSpec `json:"compaction,omitempty"`

	// Defragmentation says when members are defragmented: on a schedule,
	// past a freeable threshold, or on demand (annotation
	// etcd.quorum.dev/defragment). Recovery from the NOSPACE alarm
	// defragments whatever this says.
	// +optional
	Defragmentation *DefragmentationSpec `json:"defragmentation,omitempty"`

	// TLS configures transport security. On by default for both peer and
	// client traffic, with certificates issued by the operator.
	// +kubebuilder:default={}
	// +optional
	TLS TLSSpec `json:"tls,omitempty"`

	// NetworkPolicy, when enabled, lets only members reach the peer port and
	// only the listed clients reach the client port.
	// +optional
	NetworkPolicy NetworkPolicySpec `json:"networkPolicy,omitempty"`

	// Auth turns on etcd authentication with a root user. On by default.
	// +kubebuilder:default={}
	// +optional
	Auth AuthSpec `json:"auth,omitempty"`

	// Monitoring creates a Prometheus Operator PodMonitor for etcd's own
	// metrics (plain http on the members' metrics port) and a
	// PrometheusRule with the cluster's alerts.
	// +optional
	Monitoring MonitoringSpec `json:"monitoring,omitempty"`

	// Bootstrap says how a new cluster starts: empty, or restored from a
	// backup. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="bootstrap is immutable"
	// +optional
	Bootstrap *BootstrapSpec `json:"bootstrap,omitempty"`

	// Rollout tunes rolling restarts (see RolloutSpec).
	// +optional
	Rollout RolloutSpec `json:"rollout,omitempty"`

	// Service says how the client Service is exposed: ClusterIP (default),
	// NodePort or LoadBalancer (see ServiceSpec and README "Reaching the
	// cluster from outside Kubernetes").
	// +optional
	Service ServiceSpec `json:"service,omitempty"`
}

// RolloutSpec tunes how members are restarted with a changed spec.
type RolloutSpec struct {
	// ProgressDeadlineSeconds is how long a member restarted with a new
	// pod template may take to become ready before the rollout is halted
	// and reported stuck (Progressing=False, reason RolloutStuck, with the
	// cause Kubernetes reports for the pod). A stuck rollout is rolled
	// back: the StatefulSet gets back the pod template the healthy
	// members run (recorded in status.rollout.stuck), so a member pod
	// that restarts meanwhile comes back healthy, and the stuck member is
	// replaced with it; the change is not written again until the spec
	// renders another pod template (a revert or a fix, which rolls out as
	// usual). Seconds, 30 to 3600; default 300 (etcd loading a large
	// database or fetching a snapshot from the leader takes this long at
	// most on ordinary disks). The same idea as a Deployment's
	// progressDeadlineSeconds.
	// +kubebuilder:validation:Minimum=30
	// +kubebuilder:validation:Maximum=3600
	// +optional
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`

	// MinReadySeconds is how long a member restarted with a new pod
	// template must stay ready before the next member is restarted, so
	// that a change that fails only after a while (a memory limit etcd
	// reaches some seconds after it starts serving) stops at one member.
	// Seconds, 0 to 3600; default 30 (a too-low memory limit was seen to
	// OOM-kill etcd about 20 s after it became ready; with 0 such a change
	// reached every member before the first one failed, and quorum was
	// lost). A restarted member that has not stayed ready this long when
	// the progress deadline passes, and whose container has exited since
	// it was created, halts the rollout as RolloutStuck. The same idea as
	// a StatefulSet's minReadySeconds.
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3600
	// +optional
	MinReadySeconds *int32 `json:"minReadySeconds,omitempty"`
}

// DefaultProgressDeadlineSeconds is RolloutSpec.ProgressDeadlineSeconds
// when unset.
const DefaultProgressDeadlineSeconds = 300

// DefaultMinReadySeconds is RolloutSpec.MinReadySeconds when unset.
const DefaultMinReadySeconds = 30

// BootstrapSpec says how a new cluster starts.
type BootstrapSpec struct {
	// Restore starts every member from the same snapshot (checksum verified
	// first), with the revision bumped and the old revisions marked
	// compacted, so watchers never see time go backwards.
	// +optional
	Restore *RestoreSpec `json:"restore,omitempty"`
}

// RestoreSpec names the snapshot a new cluster starts from.
// +kubebuilder:validation:XValidation:rule="has(self.backupName) != has(self.source)",message="exactly one of backupName and source must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.source) || has(self.key)",message="source needs key"
// +kubebuilder:validation:XValidation:rule="!has(self.backupName) || !has(self.key)",message="backupName and key are exclusive: key names a snapshot in source, backupName restores the snapshot of that EtcdBackup; pick one"
// +kubebuilder:validation:XValidation:rule="!has(self.skipHashCheck) || !self.skipHashCheck || has(self.source)",message="skipHashCheck applies to source only: the snapshot of an EtcdBackup always carries etcd's hash"
type RestoreSpec struct {
	// BackupName is a Succeeded EtcdBackup in the same namespace.
	// +optional
	BackupName string `json:"backupName,omitempty"`
	// Source is where a snapshot is stored, for snapshots without an
	// EtcdBackup (another namespace or cluster, an older operator).
	// +optional
	Source *BackupLocation `json:"source,omitempty"`
	// Key of the snapshot in Source: a Quorum backup with its manifest
	// <key>.manifest.json, or, without a manifest, the raw file of
	// `etcdctl snapshot save` (checked with the SHA-256 etcd appends to it
	// and the storage version recorded in it).
	// +optional
	Key string `json:"key,omitempty"`
	// EncryptionKey decrypts an encrypted snapshot from Source (an
	// EtcdBackup's own key is used with BackupName).
	// +optional
	EncryptionKey *corev1.SecretKeySelector `json:"encryptionKey,omitempty"`
	// SkipHashCheck restores a snapshot that has no etcd hash: a copy of
	// a member's member/snap/db instead of a file from `etcdctl snapshot
	// save` (etcdutl's --skip-hash-check). Such a file cannot be checked
	// for damage: a torn or truncated copy may restore wrong data or fail
	// only once the members run. Without it a file with no etcd hash is
	// refused before anything is touched. A file that has etcd's hash is
	// checked either way. Source only. Default false.
	// +optional
	SkipHashCheck bool `json:"skipHashCheck,omitempty"`
}

// NetworkPolicySpec configures the cluster's NetworkPolicy.
type NetworkPolicySpec struct {
	// Enabled creates the NetworkPolicy. Default false.
	// +optional
	Enabled bool `json:"enabled,omitempty"`
	// AllowedClients may reach the client port; empty allows every source
	// (TLS and auth still apply). Members and the operator's namespace
	// need no entry.
	// +optional
	AllowedClients []networkingv1.NetworkPolicyPeer `json:"allowedClients,omitempty"`
}

// MonitoringSpec configures scraping of etcd's metrics.
type MonitoringSpec struct {
	// PodMonitor creates a monitoring.coreos.com/v1 PodMonitor. The
	// Prometheus Operator's CRDs must be installed.
	// +optional
	PodMonitor bool `json:"podMonitor,omitempty"`
	// PrometheusRule creates a monitoring.coreos.com/v1 PrometheusRule
	// named after the cluster with the chart's etcd alerts (no leader,
	// leader changes, members down, slow fsync and commit, database near
	// its quota, NOSPACE and CORRUPT, late backups, certificate expiry)
	// restricted to this cluster's series. They read the series the
	// PodMonitor scrapes and the operator's metrics. Without the
	// Prometheus Operator's CRDs the cluster is Degraded
	// (MonitoringUnavailable); the members are still looked after.
	// +optional
	PrometheusRule bool `json:"prometheusRule,omitempty"`
	// Labels added to the PodMonitor and the PrometheusRule, for a
	// Prometheus podMonitorSelector and ruleSelector.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Interval between scrapes, e.g. "30s". Empty uses Prometheus' default.
	// +kubebuilder:validation:Pattern=`^([0-9]+(ms|s|m|h))+$`
	// +optional
	Interval string `json:"interval,omitempty"`
}

// AuthSpec configures etcd authentication. With TLS on, a client's
// certificate common name is its etcd user name: the operator's root client
// certificate (status.clientSecretName) acts as root.
type AuthSpec struct {
	// Enabled turns authentication on once the cluster has formed. Default
	// true. Turning it off later is refused: a cluster with auth is not
	// opened up by a spec change.
	// +kubebuilder:default=true
	// +kubebuilder:validation:XValidation:rule="self || !oldSelf",message="auth cannot be turned off once enabled"
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
	// RootPasswordSecretName names a Secret in the cluster's namespace whose
	// "password" key is the root user's password. Empty: the operator
	// generates <name>-root-password.
	// +optional
	RootPasswordSecretName string `json:"rootPasswordSecretName,omitempty"`
	// Token is the kind of token etcd hands out to a client that
	// authenticates with a user name and password (see AuthTokenSpec).
	// +kubebuilder:default={}
	// +optional
	Token AuthTokenSpec `json:"token,omitempty"`
}

// AuthTokenType is etcd's --auth-token provider.
// +kubebuilder:validation:Enum=jwt;simple
type AuthTokenType string

const (
	// AuthTokenJWT: tokens are JSON Web Tokens signed (ES256) with a key
	// every member shares, so any member verifies a token another issued,
	// before and after a restart, until the token's TTL runs out.
	AuthTokenJWT AuthTokenType = "jwt"
	// AuthTokenSimple: etcd's opaque tokens, held in each member's memory
	// and lost when the member restarts; etcd documents them as fit for
	// testing only.
	AuthTokenSimple AuthTokenType = "simple"
)

// Bounds and default of AuthTokenSpec.TTL.
const (
	// DefaultAuthTokenTTL is etcd's own default token lifetime.
	DefaultAuthTokenTTL = 5 * time.Minute
	MinAuthTokenTTL     = time.Minute
	MaxAuthTokenTTL     = 24 * time.Hour
)

// AuthTokenSpec says what etcd's tokens are and how long they live. A
// change of either restarts the members one at a time (a rollout).
//
// With jwt, the operator generates an ECDSA P-256 signing key once into
// the Secret <name>-auth-token-key (keys "private.pem" and "public.pem")
// and mounts it into every member; the Secret lives as long as the member
// volumes do, like the generated root password. The key is not rotated
// automatically: deleting the Secret makes the operator generate a new one
// and restart the members with it (tokens issued with the old key are
// then refused, and clients authenticate again).
type AuthTokenSpec struct {
	// Type is jwt (default) or simple (etcd's --auth-token). The default
	// applies to every EtcdCluster the API server serves, so a cluster
	// made before this field existed reads as jwt once the CRD is
	// upgraded, and the operator moves it from simple to jwt with one
	// health-gated rolling restart; set simple to keep it as it was.
	// +kubebuilder:default=jwt
	// +optional
	Type AuthTokenType `json:"type,omitempty"`
	// TTL is how long a token is valid: a Go duration from 1m to 24h,
	// default 5m (etcd's default). A jwt token expires TTL after it was
	// issued; a simple token TTL after it was last used. Clients
	// (clientv3, etcdctl) authenticate again when their token expired.
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('24h'))",messageExpression="'ttl ' + self + ' is out of bounds: a token lives from 1m to 24h'"
	// +optional
	TTL *metav1.Duration `json:"ttl,omitempty"`
}

// StorageMedium says where member data lives.
// +kubebuilder:validation:Enum=PersistentVolume;EmptyDir;Memory
type StorageMedium string

const (
	// StoragePersistentVolume keeps data on a PersistentVolumeClaim per member.
	StoragePersistentVolume StorageMedium = "PersistentVolume"
	// StorageEmptyDir keeps data in a pod-local emptyDir: a member whose pod
	// is deleted loses its data and must be replaced; losing a quorum of pods
	// at once loses the cluster. For tests and caches only.
	StorageEmptyDir StorageMedium = "EmptyDir"
	// StorageMemory keeps data in a tmpfs emptyDir: as EmptyDir, and the
	// data counts against the pod's memory limit.
	StorageMemory StorageMedium = "Memory"
)

// PVCRetention says what happens to member volumes.
// +kubebuilder:validation:Enum=Retain;Delete
type PVCRetention string

const (
	// PVCRetain keeps the claims.
	PVCRetain PVCRetention = "Retain"
	// PVCDelete deletes the claims.
	PVCDelete PVCRetention = "Delete"
)

// StorageSpec describes member data volumes.
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName)",message="storageClassName is immutable"
// +kubebuilder:validation:XValidation:rule="!has(self.medium) || self.medium == 'PersistentVolume' || !has(self.storageClassName)",message="storageClassName applies only to medium PersistentVolume"
// +kubebuilder:validation:XValidation:rule="!has(self.medium) || self.medium == 'PersistentVolume' || !has(self.size) || !has(oldSelf.size) || self.size == oldSelf.size || (isQuantity(string(self.size)) && isQuantity(string(oldSelf.size)) && quantity(string(self.size)).compareTo(quantity(string(oldSelf.size))) == 0)",fieldPath=".size",message="storage.size of an EmptyDir or Memory medium is immutable: it is each pod's emptyDir limit, and a changed pod would restart its member with no data"
type StorageSpec struct {
	// Medium is PersistentVolume (default), EmptyDir or Memory. Immutable.
	// +kubebuilder:default=PersistentVolume
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage.medium is immutable"
	// +optional
	Medium StorageMedium `json:"medium,omitempty"`

	// Size of each member's volume (or the emptyDir size limit). It may
	// grow, never shrink (a claim cannot shrink: Kubernetes API, "Expanding
	// Persistent Volumes Claims"); the operator then grows the member
	// claims in place when their StorageClass allows expansion, without
	// restarting a member. The size of an EmptyDir or Memory medium is
	// immutable: it is the pod's emptyDir limit, and a changed pod restarts
	// its member with an empty data directory.
	// +kubebuilder:default="1Gi"
	// Compared as quantities: "1024Mi" written back as "1Gi" is no change.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf || (isQuantity(string(self)) && isQuantity(string(oldSelf)) && quantity(string(self)).compareTo(quantity(string(oldSelf))) >= 0)",messageExpression="'storage.size may grow but not shrink: ' + string(oldSelf) + ' to ' + string(self) + ' is refused (a volume claim cannot shrink; to use smaller volumes, back up and restore into a new cluster)'"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// StorageClassName of the claims; empty uses the default class.
	// Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storageClassName is immutable"
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`

	// WhenDeleted says what happens to the claims when the EtcdCluster is
	// deleted. Retain (default) keeps the data.
	// +kubebuilder:default=Retain
	// +optional
	WhenDeleted PVCRetention `json:"whenDeleted,omitempty"`

	// WhenScaled says what happens to the claim of a member removed by a
	// scale-down. Delete (default) avoids a stale member rejoining later.
	// +kubebuilder:default=Delete
	// +optional
	WhenScaled PVCRetention `json:"whenScaled,omitempty"`
}

// QuotaSpec is the backend quota.
type QuotaSpec struct {
	// BackendBytes is etcd's quota-backend-bytes. Unset, it is derived from
	// storage.size: min(8Gi, (size - 384Mi) / 2), at least 64Mi, keeping
	// room for the WAL and for the second copy of the database that
	// defragmentation and snapshots from the leader write. Set, it must
	// be positive and at most storage.size - 384Mi.
	// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self)) || quantity(string(self)).isGreaterThan(quantity('0'))",message="quota.backendBytes must be positive; leave it unset to derive it from storage.size"
	// +optional
	BackendBytes *resource.Quantity `json:"backendBytes,omitempty"`
}

// CompactionSpec is automatic compaction.
type CompactionSpec struct {
	// Mode is periodic (default) or revision.
	// +kubebuilder:validation:Enum=periodic;revision
	// +kubebuilder:default=periodic
	// +optional
	Mode string `json:"mode,omitempty"`
	// Retention is a duration for periodic mode ("1h") or a revision count
	// for revision mode ("10000"). Default "1h".
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$|^[0-9]+$`
	// +optional
	Retention string `json:"retention,omitempty"`
}

// TLSSpec configures transport security.
// +kubebuilder:validation:XValidation:rule="has(self.serverSecretName) == has(self.peerSecretName) && has(self.peerSecretName) == has(self.clientSecretName)",message="serverSecretName, peerSecretName and clientSecretName are given together or not at all"
// +kubebuilder:validation:XValidation:rule="!has(self.extraSANs) || size(self.extraSANs) == 0 || !has(self.serverSecretName)",fieldPath=".extraSANs",message="tls.extraSANs applies to certificates the operator issues: with serverSecretName, put the names in your own server certificate"
// +kubebuilder:validation:XValidation:rule="!has(self.extraSANs) || size(self.extraSANs) == 0 || !has(self.enabled) || self.enabled",fieldPath=".extraSANs",message="tls.extraSANs needs tls.enabled: without TLS there is no server certificate"
// +kubebuilder:validation:XValidation:rule="!has(self.certManager) || !has(self.serverSecretName)",fieldPath=".certManager",message="tls.certManager and serverSecretName/peerSecretName/clientSecretName are exclusive: cert-manager writes the Secrets the operator names, or you name your own"
// +kubebuilder:validation:XValidation:rule="!has(self.certManager) || !has(self.enabled) || self.enabled",fieldPath=".certManager",message="tls.certManager needs tls.enabled: without TLS there is no certificate"
// +kubebuilder:validation:XValidation:rule="has(self.certManager) == has(oldSelf.certManager)",fieldPath=".certManager",message="tls.certManager is chosen when the cluster is created: switching a running cluster to or from cert-manager changes its CA, which members that have not yet reloaded their certificates reject; create a new cluster and restore a backup into it"
type TLSSpec struct {
	// Enabled turns on mutual TLS for client and peer traffic. Default true.
	// Turning it on for a running cluster migrates it: members move their
	// client and peer URLs to https one at a time, without losing a write
	// or a quorum (status.tlsMigration, README "Turning TLS on for a
	// running cluster"); clients must use https and the client
	// certificate once it is done. Turning it off is refused: a security
	// downgrade is a new cluster and a restore.
	// +kubebuilder:default=true
	// +kubebuilder:validation:XValidation:rule="self || !oldSelf",message="TLS cannot be turned off on a running cluster (a security downgrade): create a new cluster with tls.enabled false and restore a backup into it"
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
	// ServerSecretName, PeerSecretName and ClientSecretName name Secrets
	// (tls.crt, tls.key, ca.crt; for example issued by cert-manager) to use
	// instead of certificates issued by the operator. The server and peer
	// certificates must name *.<name>-peer.<namespace>.svc.<domain> and
	// allow both server and client use; the client certificate's common
	// name must be "root". The operator does not renew them.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServerSecretName string `json:"serverSecretName,omitempty"`
	// +kubebuilder:validation:MaxLength=253
	// +optional
	PeerSecretName string `json:"peerSecretName,omitempty"`
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ClientSecretName string `json:"clientSecretName,omitempty"`
	// CertManager has cert-manager issue the certificates, from the
	// issuer it names (README "Certificates from cert-manager").
	// Exclusive with serverSecretName and co.
	// +optional
	CertManager *CertManagerSpec `json:"certManager,omitempty"`
	// ExtraSANs are extra DNS names and IP addresses the server
	// certificate carries, besides the Services' in-cluster names: the
	// names and addresses clients outside the cluster dial (a node's
	// address, a load balancer's name). Each is a DNS name (a leading
	// "*." wildcard allowed) or an IPv4/IPv6 address. A change re-issues
	// the server certificate; members pick it up on their next TLS
	// handshake, without a restart, once the kubelet has refreshed the
	// mounted Secret (at most the kubelet's sync period). Only for certificates the operator
	// issues or has cert-manager issue (not with serverSecretName).
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.all(n, isIP(n) || n.matches('^([*][.])?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?([.][a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$'))",messageExpression="'tls.extraSANs entry ' + self.filter(n, !(isIP(n) || n.matches('^([*][.])?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?([.][a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$')))[0] + ' is neither a DNS name (lower case, e.g. etcd.example.com or *.example.com) nor an IP address'"
	// +listType=set
	// +optional
	ExtraSANs []string `json:"extraSANs,omitempty"`
}

// PodTemplate holds the pod-level overrides for member pods.
type PodTemplate struct {
	// Labels added to member pods.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations added to member pods.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
}

// MemberRole is a member's role in the raft group.
type MemberRole string

const (
	// RoleLeader is the raft leader.
	RoleLeader MemberRole = "Leader"
	// RoleFollower is a voting follower.
	RoleFollower MemberRole = "Follower"
	// RoleLearner is a non-voting learner.
	RoleLearner MemberRole = "Learner"
)

// MemberStatus is what the operator last saw of one member.
type MemberStatus struct {
	// Name of the member (its pod name).
	Name string `json:"name"`
	// ID is the member ID in hex.
	// +optional
	ID string `json:"id,omitempty"`
	// +optional
	Role MemberRole `json:"role,omitempty"`
	// Version of etcd the member runs.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Version string `json:"version,omitempty"`
	// Healthy is true when the member answered a status request.
	Healthy bool `json:"healthy"`
	// DBSize is the backend size in bytes.
	// +optional
	DBSize int64 `json:"dbSize,omitempty"`
	// DBSizeInUse is the part of DBSize holding live data, in bytes;
	// dbSize - dbSizeInUse is what a defragmentation returns.
	// +optional
	DBSizeInUse int64 `json:"dbSizeInUse,omitempty"`
	// Alarms raised for this member (NOSPACE, CORRUPT). A member with an
	// alarm that answers is up.
	// +optional
	Alarms []string `json:"alarms,omitempty"`
	// Error is the last error reaching the member.
	// +optional
	Error string `json:"error,omitempty"`
}

// EtcdClusterStatus is the observed state of an etcd cluster.
type EtcdClusterStatus struct {
	// ObservedGeneration is the generation the last successful pass saw.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Reason is the reason of the most telling condition, for the list
	// view: Paused's when it is True, else Degraded's when it is True,
	// else Progressing's when it is True, else Available's.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Conditions: Available, Progressing, Degraded, Ready (Available and
	// nothing in progress, for GitOps tools), Paused (only while the
	// etcd.quorum.dev/paused annotation is "true"), VolumesGrown.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Replicas is the number of member pods.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// ReadyReplicas is the number of member pods that are ready and not
	// being deleted (counted from the pods, which the operator watches, not
	// from the StatefulSet's status, which lags behind them). Never
	// omitted, so that 0 shows as 0 in the list view's MEMBERS READY column (a status patch
	// from 3 to 0 writes 0, not a removal; the default fills it in a
	// status written before it was set).
	// +kubebuilder:default=0
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`
	// Selector is the pod label selector, for the scale subresource.
	// +optional
	Selector string `json:"selector,omitempty"`
	// ClusterID in hex.
	// +optional
	ClusterID string `json:"clusterID,omitempty"`
	// Leader is the name of the member that was raft leader when the
	// operator last asked the members; empty while no member answers (no
	// member pod runs, or etcd cannot be reached) or there is no leader.
	// +optional
	Leader string `json:"leader,omitempty"`
	// Members as last observed.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Members []MemberStatus `json:"members,omitempty"`
	// ClientEndpoint is the URL clients use.
	// +optional
	ClientEndpoint string `json:"clientEndpoint,omitempty"`
	// ClientSecretName holds a client certificate (tls.crt, tls.key,
	// ca.crt) for the root user when TLS is on.
	// +optional
	ClientSecretName string `json:"clientSecretName,omitempty"`
	// CertManager has cert-manager issue the certificates, from the
	// issuer it names (README "Certificates from cert-manager").
	// Exclusive with serverSecretName and co.
	// +optional
	CertManager *CertManagerSpec `json:"certManager,omitempty"`
	// AuthEnabled is true once the operator has turned etcd authentication on.
	// +optional
	AuthEnabled bool `json:"authEnabled,omitempty"`
	// RootPasswordSecretName holds the root user's password.
	// +optional
	RootPasswordSecretName string `json:"rootPasswordSecretName,omitempty"`
	// CASecretName holds the cluster CA.
	// +optional
	CASecretName string `json:"caSecretName,omitempty"`
	// Restore is the last in-place restore (EtcdRestore) the operator
	// carried out or is carrying out.
	// +optional
	Restore *ClusterRestoreStatus `json:"restore,omitempty"`
	// Defragmentation: the round in progress and each member's last
	// defragmentation.
	// +optional
	Defragmentation *DefragmentationStatus `json:"defragmentation,omitempty"`
	// Storage is what the member volumes really have.
	// +optional
	Storage *StorageStatus `json:"storage,omitempty"`
	// TLSMigration is the move of a running cluster's members from http
	// to https after spec.tls.enabled was turned on; absent when none is
	// under way.
	// +optional
	TLSMigration *TLSMigrationStatus `json:"tlsMigration,omitempty"`
	// CertificateAuthority is the operator's CA (TLS on, certificates
	// issued by the operator): its expiry and a rotation under way.
	// +optional
	CertificateAuthority *CertificateAuthorityStatus `json:"certificateAuthority,omitempty"`
	// TLSSecrets names the Secrets members mount when they are not the
	// ones spec.tls gives (a switch of certificate sources under way or
	// refused); absent otherwise.
	// +optional
	TLSSecrets *TLSSecretsStatus `json:"tlsSecrets,omitempty"`
	// Service is what the client Service has (type, node port, load
	// balancer addresses), read back from it each pass.
	// +optional
	Service *ServiceStatus `json:"service,omitempty"`
	// Rollout records a rollout of the members' pod template that halted
	// and was rolled back; absent when none did.
	// +optional
	Rollout *RolloutStatus `json:"rollout,omitempty"`
}

// StorageStatus is what the member claims have, as opposed to what
// spec.storage asks for.
type StorageStatus struct {
	// Capacity is the smallest status.capacity among the member claims
	// (medium PersistentVolume): during a growth it stays at the old size
	// until every member claim has grown. A quota derived from the volume
	// follows it, never spec.storage.size alone (see QuotaBackendBytes).
	// +optional
	Capacity *resource.Quantity `json:"capacity,omitempty"`
}

// ClusterRestoreStatus is the cluster's side of an in-place restore.
type ClusterRestoreStatus struct {
	// Name of the EtcdRestore.
	Name string `json:"name"`
	// RestoreID of the EtcdRestore.
	RestoreID string `json:"restoreID"`
	// Done is true once every member runs from the snapshot.
	// +optional
	Done bool `json:"done,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// ClusterID of the restored cluster, hex; after a failure, of the
	// cluster the members are back on (RolledBack).
	// +optional
	ClusterID string `json:"clusterID,omitempty"`
	// Survivor is the member a fromSurvivor recovery keeps, once chosen.
	// +optional
	Survivor string `json:"survivor,omitempty"`
	// StoppedPods are the UIDs of the member pods that ran before a
	// fromSurvivor recovery; each is restarted once.
	// +optional
	StoppedPods []string `json:"stoppedPods,omitempty"`
	// PreviousInitialCluster and PreviousInitialClusterState are the
	// bootstrap state the members had before the in-place restore (the
	// cluster ConfigMap's initial-cluster and initial-cluster-state); a
	// failed restore puts them back.
	// +optional
	PreviousInitialCluster string `json:"previousInitialCluster,omitempty"`
	// +optional
	PreviousInitialClusterState string `json:"previousInitialClusterState,omitempty"`
	// Failure is why the members' in-place restore failed after they were
	// stopped (a member's restore init container failing, with its
	// message, or no progress within the restore deadline). Once set,
	// every member is put back on the data dir it had before the restore.
	// +optional
	Failure string `json:"failure,omitempty"`
	// RolledBack is true once, after a Failure, every desired member runs
	// again on its data from before the restore and is healthy.
	// +optional
	RolledBack bool `json:"rolledBack,omitempty"`
}

// EtcdCluster is a managed etcd cluster.
// +kubebuilder:validation:XValidation:rule="!has(self.spec.version) || !has(oldSelf.spec.version) || self.spec.version == oldSelf.spec.version || !self.spec.version.matches('^3[.][0-9]+[.]') || !oldSelf.spec.version.matches('^3[.][0-9]+[.]') || (int(self.spec.version.split('.')[1]) <= int(oldSelf.spec.version.split('.')[1]) + 1 && !(has(self.status) && has(self.status.members) && self.status.members.exists(m, has(m.version) && m.version.matches('^3[.][0-9]+[.]') && int(self.spec.version.split('.')[1]) > int(m.version.split('.')[1]) + 1)))",message="spec.version may go up by one minor version at a time, counted from the previous spec.version and from the version each member runs (status.members[].version)"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.version) || !has(oldSelf.spec.version) || self.spec.version == oldSelf.spec.version || !self.spec.version.matches('^3[.][0-9]+[.]') || !oldSelf.spec.version.matches('^3[.][0-9]+[.]') || int(self.spec.version.split('.')[1]) >= int(oldSelf.spec.version.split('.')[1]) || (has(self.status) && has(self.status.members) && self.status.members.exists(m, has(m.version) && m.version.matches('^3[.][0-9]+[.]') && int(m.version.split('.')[1]) == int(self.spec.version.split('.')[1])))",message="minor version downgrades are not supported once no member runs the older minor (etcd's cluster version has moved on); going back to a minor a member still runs, the revert of an upgrade that was blocked or stuck, is allowed"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.status) || !has(oldSelf.status.certificateAuthority) || !has(oldSelf.status.certificateAuthority.rotation) || !has(self.spec.tls) || !has(oldSelf.spec.tls) || (has(self.spec.tls.serverSecretName) == has(oldSelf.spec.tls.serverSecretName) && (!has(self.spec.tls.serverSecretName) || (self.spec.tls.serverSecretName == oldSelf.spec.tls.serverSecretName && self.spec.tls.peerSecretName == oldSelf.spec.tls.peerSecretName && self.spec.tls.clientSecretName == oldSelf.spec.tls.clientSecretName)))",message="spec.tls.serverSecretName, peerSecretName and clientSecretName cannot change while a CA rotation or a switch of certificate sources is under way (status.certificateAuthority.rotation): wait until it has finished, then change them"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 48 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="the name must be a DNS label of at most 48 characters (it names Services, pods and volume claims)"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=etcd;etcds,categories=quorum
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Members Ready",type=integer,JSONPath=`.status.readyReplicas`,description="Member pods that are ready and not being deleted"
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Leader",type=string,JSONPath=`.status.leader`,description="The raft leader when the operator last asked the members"
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,description="Available, not Degraded, and nothing in progress (rollout, scaling, restore, TLS migration, maintenance); False while paused"
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.reason`,description="Paused's reason when True, else Degraded's when True, else Progressing's when True, else Available's",priority=1
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.clientEndpoint`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EtcdCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:default={}
	Spec   EtcdClusterSpec   `json:"spec,omitempty"`
	Status EtcdClusterStatus `json:"status,omitempty"`
}

// EtcdClusterList is a list of EtcdClusters.
// +kubebuilder:object:root=true
type EtcdClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EtcdCluster `json:"items"`
}

func init() {
	SchemeBuilder.Register(&EtcdCluster{}, &EtcdClusterList{})
}
