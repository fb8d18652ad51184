package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// TLSMigrationPhase is a step of turning TLS on for a running cluster.
// The phases run in the order of their declaration; each says what the
// members serve and what the operator does in it (see
// controllers/etcdcluster/tlsmigration.go).
// +kubebuilder:validation:Enum=ListenHTTPS;MovePeersToTLSPort;AdvertiseHTTPS;MovePeersBack;DropHTTP
type TLSMigrationPhase string

const (
	// TLSMigrationListenHTTPS: members restart one at a time, leader last,
	// to serve clients on http and https (one port) and peers on http and
	// on https at the migration port, still advertising http.
	TLSMigrationListenHTTPS TLSMigrationPhase = "ListenHTTPS"
	// TLSMigrationMovePeersToTLSPort: each member's peer URL moves to
	// https at the migration port (etcd MemberUpdate), one per pass.
	TLSMigrationMovePeersToTLSPort TLSMigrationPhase = "MovePeersToTLSPort"
	// TLSMigrationAdvertiseHTTPS: members restart one at a time to serve
	// peers on https at both ports and to advertise https; clients are
	// still served on http too.
	TLSMigrationAdvertiseHTTPS TLSMigrationPhase = "AdvertiseHTTPS"
	// TLSMigrationMovePeersBack: each member's peer URL moves back to the
	// peer port, now https, one per pass.
	TLSMigrationMovePeersBack TLSMigrationPhase = "MovePeersBack"
	// TLSMigrationDropHTTP: members restart one at a time with TLS only;
	// http clients are refused from then on.
	TLSMigrationDropHTTP TLSMigrationPhase = "DropHTTP"
)

// TLSMigrationStatus is a migration of a running cluster from http to
// https, after spec.tls.enabled was turned on.
type TLSMigrationStatus struct {
	// Phase is the step under way.
	Phase TLSMigrationPhase `json:"phase"`
	// StartTime is when the migration began.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
}

// TLSMigrating returns the phase of the TLS migration under way, or ""
// when none is (no migration, or TLS off in the spec).
func (c *EtcdCluster) TLSMigrating() TLSMigrationPhase {
	if !c.TLSEnabled() || c.Status.TLSMigration == nil {
		return ""
	}
	return c.Status.TLSMigration.Phase
}

// ClientTLS reports whether every member serves clients over https, so
// that the operator, backups and users connect with https and the client
// certificate: TLS is on, and no migration is under way or it is past the
// phases where members may serve http only.
func (c *EtcdCluster) ClientTLS() bool {
	switch c.TLSMigrating() {
	case TLSMigrationListenHTTPS, TLSMigrationMovePeersToTLSPort:
		return false
	}
	return c.TLSEnabled()
}
