// Package contract is what the operator and quorum-etcd, the server in
// every etcd pod, agree on: the environment the operator renders into a
// member pod, the member's ports and DNS name, the name of a stored
// snapshot's manifest, and the termination messages quorum-etcd leaves for
// the operator to read (markers and JSON reports).
//
// Both sides import this package and nothing else of each other; it
// imports only the standard library, so that the operator does not link
// etcd and the server does not link Kubernetes. parity_test.go renders a
// member pod with the operator's code and starts quorum-etcd's
// configuration from it, and reads the server's reports with the
// operator's reader.
package contract

import "fmt"

// Environment of a member pod: the operator renders it, quorum-etcd serve
// reads it.
const (
	EnvPodName             = "POD_NAME"                     // required
	EnvPodNamespace        = "POD_NAMESPACE"                // required
	EnvPeerService         = "QUORUM_PEER_SERVICE"          // required
	EnvClusterDomain       = "QUORUM_CLUSTER_DOMAIN"        // default DefaultClusterDomain
	EnvInitialCluster      = "QUORUM_INITIAL_CLUSTER"       // name=peerURL,...
	EnvInitialClusterState = "QUORUM_INITIAL_CLUSTER_STATE" // ClusterStateNew | ClusterStateExisting (required)
	EnvClusterToken        = "QUORUM_CLUSTER_TOKEN"         // required when the state is new
	EnvForceNewCluster     = "QUORUM_FORCE_NEW_CLUSTER"     // "<member>/<id>": that member starts once with --force-new-cluster
	EnvDataDir             = "QUORUM_DATA_DIR"              // default /var/lib/etcd/data
	EnvConfigFile          = "QUORUM_CONFIG_FILE"           // optional YAML of extra etcd options
	EnvServerTLSDir        = "QUORUM_SERVER_TLS_DIR"        // optional; empty = plain http
	EnvPeerTLSDir          = "QUORUM_PEER_TLS_DIR"          // optional; empty = plain http
	EnvReadyTimeout        = "QUORUM_READY_TIMEOUT"         // optional Go duration, default 5m, 0 = forever
	EnvReplaceStaleData    = "QUORUM_REPLACE_STALE_DATA"    // optional bool, default true
	EnvTerminationLog      = "QUORUM_TERMINATION_LOG"       // default DefaultTerminationLog
	EnvAuthToken           = "QUORUM_AUTH_TOKEN"            // optional: AuthTokenSimple (default) | AuthTokenJWT
	EnvAuthTokenKeyDir     = "QUORUM_AUTH_TOKEN_KEY_DIR"    // required for AuthTokenJWT: holds AuthTokenPrivateKeyFile and AuthTokenPublicKeyFile
	EnvAuthTokenTTL        = "QUORUM_AUTH_TOKEN_TTL"        // optional Go duration, default 5m (etcd's)
	// EnvActiveRestoreID is the restore-id the cluster's ConfigMap names
	// now, given to the in-place restore init container: it restores only
	// while its own restore is the active one.
	EnvActiveRestoreID = "QUORUM_ACTIVE_RESTORE_ID"
	// EnvTLSMigration is a step of turning TLS on for a running cluster
	// (TLSMigrationListen or TLSMigrationAdvertise); empty outside one.
	// It needs both TLS dirs.
	EnvTLSMigration = "QUORUM_TLS_MIGRATION"
)

// Values of EnvTLSMigration: what a member serves while a running cluster
// moves from http to https (the operator's migration, see
// controllers/etcdcluster/tlsmigration.go). Clients are served on
// ClientPort in both schemes (etcd multiplexes one port when
// listen-client-urls names it as http and https); peers, whose listener
// cannot mix schemes, are served on PeerPort and PeerMigrationPort.
const (
	// TLSMigrationListen: clients on http and https, advertising http;
	// peers on http PeerPort and https PeerMigrationPort, advertising
	// http PeerPort.
	TLSMigrationListen = "listen"
	// TLSMigrationAdvertise: clients on http and https, advertising https;
	// peers on https PeerPort and https PeerMigrationPort, advertising
	// https PeerPort.
	TLSMigrationAdvertise = "advertise"
)

// Values of EnvAuthToken: etcd's --auth-token providers.
const (
	AuthTokenSimple = "simple"
	AuthTokenJWT    = "jwt"
)

// The JWT signing key in EnvAuthTokenKeyDir: an ECDSA P-256 key pair in
// PEM (the private key PKCS #8, the public key PKIX), signing with ES256.
const (
	AuthTokenPrivateKeyFile = "private.pem"
	AuthTokenPublicKeyFile  = "public.pem"
	AuthTokenSignMethod     = "ES256"
)

// Values of EnvInitialClusterState.
const (
	ClusterStateNew      = "new"
	ClusterStateExisting = "existing"
)

// Ports of a member.
const (
	ClientPort  = 2379
	PeerPort    = 2380
	MetricsPort = 2381
	// PeerMigrationPort serves peers over https while PeerPort still
	// serves them over http, during a TLS migration only.
	PeerMigrationPort = 2382
)

// DefaultClusterDomain is the DNS suffix when none is configured.
const DefaultClusterDomain = "cluster.local"

// MemberHost is the stable DNS name of a member behind the headless peer
// Service: <pod>.<service>.<namespace>.svc.<domain>.
func MemberHost(pod, peerService, namespace, domain string) string {
	return fmt.Sprintf("%s.%s.%s.svc.%s", pod, peerService, namespace, domain)
}

// ManifestSuffix names the manifest stored next to a snapshot:
// <key>.manifest.json. A snapshot without its manifest is incomplete.
const ManifestSuffix = ".manifest.json"
