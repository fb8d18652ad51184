package v1alpha1

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
	// has no "password" key.
	ReasonAuthSecretMissing = "AuthSecretMissing"
	// ReasonCertificateInvalid: a user-supplied TLS Secret is missing or
	// does not hold a certificate, key and CA.
	ReasonCertificateInvalid = "CertificateInvalid"
	// ReasonRestoreSourceNotReady: the backup to restore from does not
	// exist or has not succeeded.
	ReasonRestoreSourceNotReady = "RestoreSourceNotReady"
	// ReasonMonitoringUnavailable: a PodMonitor was asked for but the
	// Prometheus Operator's CRDs are not installed.
	ReasonMonitoringUnavailable = "MonitoringUnavailable"
	// ReasonRollingOut: members are being restarted one at a time with a
	// changed spec (version, options, resources, pod template).
	ReasonRollingOut = "RollingOut"
	// ReasonRestoringInPlace: an EtcdRestore is replacing every member's
	// data with a snapshot; membership changes and rollouts wait.
	ReasonRestoringInPlace = "RestoringInPlace"
	// ReasonReconcileError: a step of the last pass failed; the message says which.
	ReasonReconcileError = "ReconcileError"
)
