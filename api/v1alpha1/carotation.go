package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// AnnotationRotateCA asks for one rotation of the cluster's CA (the
// operator's own CA, not user-supplied certificates): set it to a new value
// (a timestamp, a ticket number) and the operator rotates the CA once, then
// records the value in status.certificateAuthority.handledRequest. Setting
// the same value again does nothing. The same pattern as
// AnnotationDefragment.
const AnnotationRotateCA = "etcd.quorum.dev/rotate-ca"

// CARotationPhase is a step of a CA rotation. The phases run in the order
// of their declaration (see controllers/etcdcluster/carotation_plan.go).
// +kubebuilder:validation:Enum=TrustBoth;IssueFromNew;DropOld
type CARotationPhase string

const (
	// CARotationTrustBoth: a new CA exists; every Secret's ca.crt holds
	// the old and the new CA, and members restart one at a time, leader
	// last, to trust both. Leaves are still signed by the old CA.
	CARotationTrustBoth CARotationPhase = "TrustBoth"
	// CARotationIssueFromNew: the new CA signs; the three leaf
	// certificates are re-issued from it and members restart one at a
	// time to present them. ca.crt still holds both CAs.
	CARotationIssueFromNew CARotationPhase = "IssueFromNew"
	// CARotationDropOld: ca.crt holds the new CA only and members restart
	// one at a time to stop trusting the old one.
	CARotationDropOld CARotationPhase = "DropOld"
)

// CertificateAuthorityStatus is the operator's CA of a cluster with TLS
// and operator-issued certificates.
type CertificateAuthorityStatus struct {
	// NotAfter is when the CA that signs the cluster's certificates
	// expires. It is rotated automatically 90 days before.
	// +optional
	NotAfter *metav1.Time `json:"notAfter,omitempty"`
	// Rotation is the CA rotation under way; absent when none is.
	// +optional
	Rotation *CARotationStatus `json:"rotation,omitempty"`
	// HandledRequest is the last value of the etcd.quorum.dev/rotate-ca
	// annotation acted on.
	// +optional
	HandledRequest string `json:"handledRequest,omitempty"`
	// LastRotationTime is when the last CA rotation finished.
	// +optional
	LastRotationTime *metav1.Time `json:"lastRotationTime,omitempty"`
}

// CARotationStatus is a CA rotation under way.
type CARotationStatus struct {
	// Phase is the step under way.
	Phase CARotationPhase `json:"phase"`
	// StartTime is when the rotation began.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// Reason says why: "requested" (the annotation), "expiring" (the
	// CA had less than 90 days left) or "switch" (spec.tls changed the
	// certificate source: from and to are set).
	// +optional
	Reason string `json:"reason,omitempty"`
	// From and To are the certificate sources of a switch (reason
	// "switch"): the phases' "old CA" is From's, the "new CA" To's.
	// +optional
	From CertificateSource `json:"from,omitempty"`
	// +optional
	To CertificateSource `json:"to,omitempty"`
}
