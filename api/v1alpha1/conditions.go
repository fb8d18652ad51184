package v1alpha1

// Condition types and reasons, grouped by kind. Each kind's conditions use
// only the reasons of its own group. Reconcilers set them through one
// helper (controllers/internal/conditions).

// Condition types of EtcdCluster.
const (
	// ConditionAvailable is True when a quorum of members is healthy and the
	// cluster serves requests.
	ConditionAvailable = "Available"
	// ConditionProgressing is True while the operator is moving the cluster
	// towards its spec (creating, scaling, rolling out).
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when some member is unhealthy or the spec
	// cannot be carried out.
	ConditionDegraded = "Degraded"
	// ConditionReady is True only when the cluster is Available, not
	// Degraded, and nothing is in progress (Progressing False: no
	// bootstrap, scaling, rollout, restore, TLS migration or volume
	// growth) and no maintenance (compaction, defragmentation, alarm
	// recovery) has work left. It is what a GitOps tool waits for. While
	// False, its reason is the first of: Paused, Available's (when not
	// True), Degraded's (when True), Progressing's (when True),
	// Maintaining.
	ConditionReady = "Ready"
	// ConditionPaused is True while the cluster carries the
	// etcd.quorum.dev/paused annotation set to "true" (AnnotationPaused);
	// absent otherwise.
	ConditionPaused = "Paused"
)

// Condition reasons of EtcdCluster.
const (
	// ReasonQuorumHealthy: a quorum of members answers and has a leader.
	ReasonQuorumHealthy = "QuorumHealthy"
	// ReasonQuorumLost: fewer than a quorum of members answer.
	ReasonQuorumLost = "QuorumLost"
	// ReasonBootstrapping: the cluster is being created.
	ReasonBootstrapping = "Bootstrapping"
	// ReasonMembersNotReady: some member pods are not ready yet.
	ReasonMembersNotReady = "MembersNotReady"
	// ReasonReconciled: the cluster matches its spec.
	ReasonReconciled = "Reconciled"
	// ReasonAllMembersHealthy: every member answers.
	ReasonAllMembersHealthy = "AllMembersHealthy"
	// ReasonMemberUnhealthy: at least one member does not answer.
	ReasonMemberUnhealthy = "MemberUnhealthy"
	// ReasonUnreachable: the operator cannot reach any member.
	ReasonUnreachable = "Unreachable"
	// ReasonInvalidSpec: the spec passed admission but cannot be carried out.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonScalePending: a membership change waits for the cluster (a
	// learner catching up, an unhealthy member, etcd's own health check).
	ReasonScalePending = "ScalePending"
	// ReasonScaling: the operator made a membership change this pass.
	ReasonScaling = "Scaling"
	// ReasonScaleRefused: the next membership change would be unsafe (lose
	// quorum, remove the last voter) or a member is not understood.
	ReasonScaleRefused = "ScaleRefused"
	// ReasonAuthSecretMissing: the named root password Secret is missing or
	// has no "password" key. While the password last applied to etcd is
	// recorded, the operator keeps using it (Available follows etcd) and
	// Degraded carries this reason; a generated Secret gets its key back
	// from the record instead, with a Warning event of this reason.
	ReasonAuthSecretMissing = "AuthSecretMissing"
	// ReasonCertificateInvalid: a user-supplied TLS Secret is missing or
	// does not hold a certificate, key and CA.
	ReasonCertificateInvalid = "CertificateInvalid"
	// ReasonCertManagerUnavailable: spec.tls.certManager is set but the
	// API server serves no cert-manager Certificate kind (cert-manager is
	// not installed); Degraded carries it and the members wait.
	ReasonCertManagerUnavailable = "CertManagerUnavailable"
	// ReasonCertificateIssuerNotReady: the issuer spec.tls.certManager
	// names does not exist or is not Ready (its own message is quoted).
	ReasonCertificateIssuerNotReady = "CertificateIssuerNotReady"
	// ReasonCertificateNotReady: a cert-manager Certificate of the cluster
	// is not Ready (cert-manager's message is quoted). Before its Secret
	// exists the members wait; after, they keep the certificate they have.
	ReasonCertificateNotReady = "CertificateNotReady"
	// ReasonCertificatePending: cert-manager is issuing a certificate the
	// members need and has not written its Secret yet (Progressing).
	ReasonCertificatePending = "CertificatePending"
	// ReasonServiceRefused: the API server refused the client Service as
	// spec.service renders it (a nodePort another Service holds, a type
	// the cluster does not allow); Degraded carries its message, and the
	// pass stops before the members until spec.service is fixed.
	ReasonServiceRefused = "ServiceRefused"
	// ReasonRestoreSourceNotReady: the backup to restore from (in
	// spec.bootstrap.restore, or named by the EtcdRestore being carried
	// out) cannot be used: for spec.bootstrap.restore, it Failed or still
	// does not exist after a minute (an unfinished one is
	// RestoreSourcePending).
	ReasonRestoreSourceNotReady = "RestoreSourceNotReady"
	// ReasonRestoreSourcePending: a new cluster waits (Progressing, not
	// Degraded) for the EtcdBackup in spec.bootstrap.restore to succeed:
	// it is Pending or Running, or not created yet (for a minute).
	ReasonRestoreSourcePending = "RestoreSourcePending"
	// ReasonNoSurvivor: an EtcdRestore fromSurvivor names no member and no
	// member answers a status request, so none can be chosen.
	ReasonNoSurvivor = "NoSurvivor"
	// ReasonMonitoringUnavailable: a PodMonitor or a PrometheusRule was
	// asked for (spec.monitoring) but the Prometheus Operator's CRDs are
	// not installed. The rest of the pass goes on.
	ReasonMonitoringUnavailable = "MonitoringUnavailable"
	// ReasonRollingOut: members are being restarted one at a time with a
	// changed spec (version, options, resources, pod template).
	ReasonRollingOut = "RollingOut"
	// ReasonRestoringInPlace: an EtcdRestore is replacing every member's
	// data with a snapshot; membership changes and rollouts wait.
	ReasonRestoringInPlace = "RestoringInPlace"
	// ReasonRestoreRollingBack: the members' in-place restore failed after
	// they were stopped; every member is being put back on the data dir it
	// had before the restore (status.restore.failure says why).
	ReasonRestoreRollingBack = "RestoreRollingBack"
	// ReasonTLSMigrating: TLS was turned on for a running cluster and its
	// members are moving from http to https one at a time; the message
	// names the phase (status.tlsMigration.phase) and what comes next.
	ReasonTLSMigrating = "TLSMigrating"
	// ReasonCARotating: the cluster's CA is being replaced; the message
	// names the phase (status.certificateAuthority.rotation.phase) and
	// what comes next.
	ReasonCARotating = "CARotating"
	// ReasonCertificateSwitching: spec.tls changed the certificate source
	// of a running cluster and the switch is under way, through the phases
	// of a CA rotation (status.certificateAuthority.rotation with from and
	// to); the message names the phase and what comes next.
	ReasonCertificateSwitching = "CertificateSwitching"
	// ReasonCertificateSwitchRefused: spec.tls asks for another certificate
	// source, but the switch cannot be done safely (the user's Secrets are
	// missing, lack a name or usage members need, or their CA does not
	// verify their leaves); members keep the old source, and the message
	// says what to fix. Progressing and Degraded carry it.
	ReasonCertificateSwitchRefused = "CertificateSwitchRefused"
	// ReasonReconcileError: a step of the last pass failed; the message says which.
	ReasonReconcileError = "ReconcileError"
	// ReasonPaused: the etcd.quorum.dev/paused annotation is "true"; the
	// operator changes nothing of the cluster until it is removed (Paused
	// True, Ready False, and a Normal event of this reason).
	ReasonPaused = "Paused"
	// ReasonResumed: the reason of the Normal event recorded when the
	// paused annotation was removed and reconciling resumed.
	ReasonResumed = "Resumed"
	// ReasonMaintaining: Ready is False while storage maintenance has work
	// left (a defragmentation round, NOSPACE recovery); the message says
	// what comes next.
	ReasonMaintaining = "Maintaining"
)

// Condition reasons of EtcdCluster: credentials.
const (
	// ReasonAuthRejected: etcd refuses every root password the operator has
	// (the password Secret, its record of the last applied one, a restore
	// source's): the data was written under another root password. The
	// message names the Secret to put the data's password into.
	ReasonAuthRejected = "AuthRejected"
	// ReasonAuthTokenKeyInvalid: the JWT signing key Secret
	// (<name>-auth-token-key) does not hold a matching ECDSA P-256 key
	// pair; the message says what is wrong. Deleting the Secret makes the
	// operator generate a new key.
	ReasonAuthTokenKeyInvalid = "AuthTokenKeyInvalid"
)

// Condition reasons of EtcdCluster's Progressing condition when a rollout
// cannot go on (see controllers/etcdcluster/rollout.go). Both are
// Progressing=False: the operator waits for a spec change.
const (
	// ReasonRolloutStuck: a member restarted with the new pod template did
	// not become ready within spec.rollout.progressDeadlineSeconds; the
	// message names the pod and the cause Kubernetes reports (image pull,
	// crash loop with its last termination message, OOM kill, no node).
	// No other member is restarted, and the StatefulSet's pod template is
	// rolled back to the one the healthy members run (status.rollout.stuck
	// records the change), so that a member pod that restarts meanwhile
	// comes back healthy and the broken member is replaced with it. Once
	// the spec renders another pod template (a revert or a fix), the
	// record is cleared and the new template rolls out as usual.
	ReasonRolloutStuck = "RolloutStuck"
	// ReasonRolloutBlocked: the preflight check of the new image and
	// options failed (the image cannot be pulled, or the bundled server
	// refuses the options, quoted); they are kept from the members'
	// template, and no member was restarted.
	ReasonRolloutBlocked = "RolloutBlocked"
	// ReasonRolloutRolledBack is the reason of the Warning event recorded
	// when the StatefulSet's pod template is put back to the last healthy
	// one after a rollout got stuck (see ReasonRolloutStuck); recorded
	// once per stuck change.
	ReasonRolloutRolledBack = "RolloutRolledBack"
)

// Condition reasons of EtcdCluster for etcd alarms (Degraded). A member
// that answers with an alarm is up: an alarm is never MemberUnhealthy.
const (
	// ReasonNoSpace: the NOSPACE alarm is raised (a member's backend reached
	// its quota, etcd op-guide/maintenance "Space quota"); the cluster takes
	// only reads and deletes. The operator compacts, defragments and
	// disarms; the message says whether live data fills the quota, in which
	// case data must be deleted or spec.quota.backendBytes raised.
	ReasonNoSpace = "NoSpace"
	// ReasonDataCorrupt: a member's data is corrupt (etcd
	// op-guide/data_corruption): its pod refuses to start for it (etcd's
	// initial corruption check, or a database file that cannot be
	// opened), or the CORRUPT alarm is raised (members' data differ; every
	// member refuses writes). The operator replaces a member singled out
	// by its pod or by its HashKV when quorum survives without it, and
	// disarms CORRUPT once every member's HashKV agrees; the message says
	// which step comes next or what the user must do (a single member, or
	// no majority of agreeing voters: restore from a backup).
	ReasonDataCorrupt = "DataCorrupt"
)

// Condition type and reasons of EtcdCluster for volume growth
// (spec.storage.size raised; medium PersistentVolume only).
const (
	// ConditionVolumesGrown is True when every bound member claim has the
	// size spec.storage.size asks for; False while claims grow or when they
	// cannot. Members keep running on their claims either way. It is set
	// once a member claim is bound: a claim not bound yet has no volume to
	// grow.
	ConditionVolumesGrown = "VolumesGrown"
	// ReasonVolumesAtSize: every bound member claim has the asked size (the
	// message names claims not bound yet).
	ReasonVolumesAtSize = "VolumesAtSize"
	// ReasonVolumeExpanding: member claims were asked to grow; the
	// StorageClass's resizer is growing them. Also Progressing's reason
	// meanwhile, and while the StatefulSet is replaced for its new claim
	// template.
	ReasonVolumeExpanding = "VolumeExpanding"
	// ReasonVolumeExpansionUnsupported: the member claims' StorageClass
	// does not allow expansion (allowVolumeExpansion is not true) or is
	// missing; the claims keep their size and the quota is not raised.
	ReasonVolumeExpansionUnsupported = "VolumeExpansionUnsupported"
	// ReasonVolumeExpansionInfeasible: the resizer marked a claim's
	// expansion infeasible (allocatedResourceStatuses
	// ControllerResizeInfeasible or NodeResizeInfeasible); the message
	// carries the resizer's.
	ReasonVolumeExpansionInfeasible = "VolumeExpansionInfeasible"
)

// Condition type and reasons of EtcdCluster for certificates near their
// expiry that the operator will not renew (controllers/etcdcluster/certexpiry.go).
const (
	// ConditionCertificatesExpiring is True when a certificate the cluster
	// depends on expires within 30 days or has expired, and the operator
	// will not renew it in time: a certificate of the user's Secrets
	// (spec.tls.serverSecretName, peerSecretName, clientSecretName: every
	// certificate of tls.crt, and every CA of ca.crt), or the operator's
	// own CA, which its rotation (due 90 days before expiry) has not
	// replaced. The operator's own leaves are renewed in that window and
	// never count. 30 days is the window in which the operator renews its
	// leaves (and cert-manager its default 90-day certificates). The
	// message names each certificate (common name, Secret and key), its
	// expiry and what to do; a Warning event of the same reason is
	// recorded once per certificate when it becomes due, and again once it
	// has expired. False (CertificatesValid) otherwise, with the soonest
	// expiry; absent with TLS off. A warning only: it changes neither
	// Available, Degraded nor Ready (an expired certificate makes members
	// fail handshakes, which they report themselves).
	ConditionCertificatesExpiring = "CertificatesExpiring"
	// ReasonCertificateExpiring: a certificate the operator will not renew
	// expires within 30 days.
	ReasonCertificateExpiring = "CertificateExpiring"
	// ReasonCertificateExpired: a certificate the operator will not renew
	// has expired (notAfter is past).
	ReasonCertificateExpired = "CertificateExpired"
	// ReasonCertificatesValid: no certificate the operator will not renew
	// expires within 30 days.
	ReasonCertificatesValid = "CertificatesValid"
)

// Condition reasons of EtcdCluster: why members do not start.
const (
	// ReasonMemberPodsFailing: a member pod cannot start or keeps
	// crashing (image pull, crash loop, init container failure, no node);
	// the message carries what Kubernetes reports. Waiting does not help:
	// the spec or the environment must change.
	ReasonMemberPodsFailing = "MemberPodsFailing"
	// ReasonScalingDown: members above spec.replicas are being removed;
	// errors from members on their way out are expected and retried.
	ReasonScalingDown = "ScalingDown"
)

// Condition types of EtcdBackup.
const (
	// BackupConditionComplete is True once the snapshot is stored.
	BackupConditionComplete = "Complete"
	// BackupConditionFailed is True once the backup has failed for good.
	BackupConditionFailed = "Failed"
)

// Condition reasons of EtcdBackup.
const (
	// ReasonClusterNotFound: the EtcdCluster to back up does not exist.
	ReasonClusterNotFound = "ClusterNotFound"
	// ReasonClusterUnavailable: the EtcdCluster is not Available yet.
	ReasonClusterUnavailable = "ClusterUnavailable"
	// ReasonJobRunning: the backup Job is running.
	ReasonJobRunning = "JobRunning"
	// ReasonJobSucceeded: the backup Job stored the snapshot.
	ReasonJobSucceeded = "JobSucceeded"
	// ReasonJobFailed: the backup Job failed, or its report is unreadable.
	ReasonJobFailed = "JobFailed"
)

// Condition reasons of EtcdBackup: why the backup pod cannot run.
const (
	// ReasonBackupPodFailing: the backup Job's pod cannot start (a missing
	// credentials Secret or key, an image that cannot be pulled, no node)
	// and did not recover within a short grace; the backup failed.
	ReasonBackupPodFailing = "BackupPodFailing"
	// ReasonSecretMissing: a Secret the backup Job reads is missing or
	// lacks its key (the S3 credentials Secret or its AWS_ACCESS_KEY_ID or
	// AWS_SECRET_ACCESS_KEY, the S3 CA Secret or its key, the encryption
	// key Secret or its key); the backup failed before its Job was created.
	ReasonSecretMissing = "SecretMissing"
)

// Condition reason of EtcdBackup, EtcdRestore and EtcdCluster (and in the
// RetentionFailed message of EtcdBackupSchedule): an S3 location reached
// by webIdentity or instanceRole names a ServiceAccount that does not
// exist, so no pod that reaches the bucket could be created. A backup
// fails before its Job is created (like SecretMissing); a restore waits
// in Pending, and a cluster restoring from the location is Degraded and
// starts no member, until the ServiceAccount exists.
const ReasonServiceAccountMissing = "ServiceAccountMissing"

// Condition reason of EtcdBackup and EtcdRestore: the Job controller
// cannot create the Job's pod: the API server refuses it (PodSecurity
// admission, an exhausted ResourceQuota, a LimitRange, a missing
// ServiceAccount), as the Job's FailedCreate events say; the message
// quotes the refusal. A backup fails once the refusal has lasted a short
// grace (30 s from the Job's creation); a restore waits in Verifying, the
// Job controller retrying, until the pod is created or the Job's deadline
// passes.
const ReasonJobPodNotCreated = "JobPodNotCreated"

// Condition types of EtcdRestore.
const (
	// RestoreConditionComplete is True once every member runs from the
	// snapshot (or the survivor runs as a new cluster).
	RestoreConditionComplete = "Complete"
	// RestoreConditionFailed is True once the restore has failed for good.
	RestoreConditionFailed = "Failed"
)

// Condition reasons of EtcdRestore.
const (
	// ReasonWaitingForCluster: the EtcdCluster to restore does not exist yet.
	ReasonWaitingForCluster = "WaitingForCluster"
	// ReasonSourceNotReady: the EtcdBackup to restore from is missing, has
	// not succeeded, or failed.
	ReasonSourceNotReady = "SourceNotReady"
	// ReasonAnotherRestore: an older EtcdRestore of the same cluster goes first.
	ReasonAnotherRestore = "AnotherRestoreInProgress"
	// ReasonVerifying: a Job is checking the snapshot; the cluster is not
	// touched yet.
	ReasonVerifying = "Verifying"
	// ReasonVerificationFailed: the snapshot failed its check; the cluster
	// was not touched.
	ReasonVerificationFailed = "VerificationFailed"
	// ReasonMembersRestoring: the EtcdCluster reconciler is restoring the
	// members.
	ReasonMembersRestoring = "MembersRestoring"
	// ReasonRestored: the cluster reports the restore done.
	ReasonRestored = "Restored"
	// ReasonRollingBack: the members' restore failed after they were
	// stopped; the cluster reconciler is putting every member back on its
	// data from before the restore.
	ReasonRollingBack = "RollingBack"
	// ReasonRolledBack: the members' restore failed after they were
	// stopped, and every member runs again on its data from before the
	// restore; the message names the cause.
	ReasonRolledBack = "RolledBack"
	// ReasonClusterDeleted: the EtcdCluster was deleted during the restore.
	ReasonClusterDeleted = "ClusterDeleted"
	// ReasonClusterHasQuorum: a fromSurvivor recovery was refused because
	// the cluster is Available.
	ReasonClusterHasQuorum = "ClusterHasQuorum"
	// ReasonChoosingSurvivor: a fromSurvivor recovery cannot choose the
	// survivor yet.
	ReasonChoosingSurvivor = "ChoosingSurvivor"
)

// Condition type of EtcdBackupSchedule.
const (
	// ScheduleConditionReady is True when the schedule is valid, creates
	// backups on time (or is suspended) and retention works.
	ScheduleConditionReady = "Ready"
)

// Condition reasons of EtcdBackupSchedule.
const (
	// ReasonScheduled: the schedule is valid; the message gives the next slot.
	ReasonScheduled = "Scheduled"
	// ReasonSuspended: spec.suspend is set; no backup is created.
	ReasonSuspended = "Suspended"
	// ReasonInvalidSchedule: spec.schedule or spec.timeZone cannot be parsed
	// (also the reason of the Warning event, recorded once, when an
	// EtcdCluster's spec.defragmentation schedule cannot be).
	ReasonInvalidSchedule = "InvalidSchedule"
	// ReasonRetentionFailed: an expired backup could not be deleted (its
	// storage is unreachable or its credentials are missing); it is retried.
	ReasonRetentionFailed = "RetentionFailed"
	// ReasonScheduleError: a step of the last pass failed; the message says which.
	ReasonScheduleError = "ScheduleError"
)

// Condition type of EtcdUser.
const (
	// UserConditionReady is True when the etcd user and role match the spec
	// and the credentials Secret holds working credentials.
	UserConditionReady = "Ready"
)

// Condition reasons of EtcdUser. ReasonClusterNotFound and
// ReasonClusterUnavailable (see EtcdBackup) are also used.
const (
	// ReasonUserReady: the user, its role and the Secret are in place.
	ReasonUserReady = "UserReady"
	// ReasonAuthDisabled: the EtcdCluster has spec.auth.enabled false, or
	// etcd has not turned authentication on yet: without it etcd checks no
	// permission, so the operator creates no user (it retries).
	ReasonAuthDisabled = "AuthDisabled"
	// ReasonCertificateAuthUnavailable: authentication certificate needs
	// TLS on and a CA the operator issued (not tls.serverSecretName); use
	// password or change the cluster.
	ReasonCertificateAuthUnavailable = "CertificateAuthUnavailable"
	// ReasonNameReserved: the EtcdUser's name is the common name of one of
	// the cluster's own certificates (<cluster>-server, <cluster>-peer):
	// etcd would take those certificates as the user. Rename the EtcdUser.
	ReasonNameReserved = "NameReserved"
	// ReasonEtcdError: etcd refused or did not answer a user or role
	// call; the message has the error; it is retried.
	ReasonEtcdError = "EtcdError"
)
