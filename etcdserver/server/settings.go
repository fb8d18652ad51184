package server

import (
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"quorum.dev/etcd-operator/internal/contract"
)

// Ports of the member, as rendered by the operator.
const (
	ClientPort  = contract.ClientPort
	PeerPort    = contract.PeerPort
	MetricsPort = contract.MetricsPort
	// PeerMigrationPort: see contract.PeerMigrationPort.
	PeerMigrationPort = contract.PeerMigrationPort
)

// Cluster states accepted in QUORUM_INITIAL_CLUSTER_STATE.
const (
	ClusterStateNew      = contract.ClusterStateNew
	ClusterStateExisting = contract.ClusterStateExisting
)

// Names of the files expected in a TLS directory.
const (
	TLSCertFile = "tls.crt"
	TLSKeyFile  = "tls.key"
	TLSCAFile   = "ca.crt"
)

// Timeouts.
const (
	// DefaultReadyTimeout bounds how long Run waits for the member to become
	// ready (ReadyNotify) before it gives up and returns an error. It is
	// generous because a member of a new cluster waits for a quorum of its
	// peers to be scheduled and started.
	DefaultReadyTimeout = 5 * time.Minute
	// DefaultMemberListTimeout bounds the MemberList call made when joining an
	// existing cluster (connection set-up included).
	DefaultMemberListTimeout = 30 * time.Second
	// DefaultJoinWait: see Settings.JoinWait.
	DefaultJoinWait = 2 * time.Minute
	// readyWaitLogInterval is how often Run logs that it is still waiting.
	readyWaitLogInterval = 30 * time.Second
)

// Peer is one entry of an initial-cluster string: name=peerURL.
type Peer struct {
	Name string
	URL  url.URL
}

// TLSDir is a directory holding tls.crt, tls.key and ca.crt. The zero value
// means TLS is off for that side.
type TLSDir string

// Enabled reports whether TLS is configured.
func (d TLSDir) Enabled() bool { return d != "" }

// CertFile is the path of the certificate.
func (d TLSDir) CertFile() string { return filepath.Join(string(d), TLSCertFile) }

// KeyFile is the path of the private key.
func (d TLSDir) KeyFile() string { return filepath.Join(string(d), TLSKeyFile) }

// CAFile is the path of the trusted CA bundle.
func (d TLSDir) CAFile() string { return filepath.Join(string(d), TLSCAFile) }

// Scheme is https when TLS is enabled, http otherwise.
func (d TLSDir) Scheme() string {
	if d.Enabled() {
		return "https"
	}
	return "http"
}

// Settings is everything needed to start one member. All URLs are fully
// resolved so that tests can point them at 127.0.0.1 and free ports.
type Settings struct {
	// Name is the member name (the pod name).
	Name string
	// DataDir is etcd's data directory.
	DataDir string

	// ClusterState is ClusterStateNew or ClusterStateExisting. It is only
	// consulted when DataDir holds no member yet.
	ClusterState string
	// InitialCluster is the parsed QUORUM_INITIAL_CLUSTER, used to bootstrap
	// a new cluster.
	InitialCluster []Peer
	// ClusterToken is the initial cluster token of a new cluster.
	ClusterToken string
	// JoinEndpoints are the client URLs of the other members, asked for the
	// member list when joining an existing cluster.
	JoinEndpoints []string

	ListenPeerURL   url.URL
	ListenClientURL url.URL
	// ExtraListenPeerURLs and ExtraListenClientURLs are listened on too,
	// during a TLS migration only (see TLSMigration).
	ExtraListenPeerURLs   []url.URL
	ExtraListenClientURLs []url.URL
	// TLSMigration is the step of a TLS migration the member serves
	// (contract.TLSMigrationListen or contract.TLSMigrationAdvertise), or
	// "" outside one.
	TLSMigration       string
	ListenMetricsURL   url.URL
	AdvertisePeerURL   url.URL
	AdvertiseClientURL url.URL

	// ServerTLS secures the client listener (mutual TLS) and is also the
	// client certificate used for MemberList when joining.
	ServerTLS TLSDir
	// PeerTLS secures the peer listener and peer connections (mutual TLS).
	PeerTLS TLSDir

	// ConfigFile is an optional YAML file of extra etcd options, see
	// LoadOptions.
	ConfigFile string

	// ReadyTimeout bounds the wait for readiness; 0 waits forever.
	ReadyTimeout time.Duration
	// MemberListTimeout bounds the MemberList call of a join.
	MemberListTimeout time.Duration
	// JoinWait is how long a joining member that is not (yet) in the member
	// list keeps asking before it gives up.
	JoinWait time.Duration

	// StaleCheckTimeout bounds the member list asked for on a restart (see
	// StaleReason); 0 means DefaultStaleCheckTimeout.
	StaleCheckTimeout time.Duration
	// ForceNewCluster, when set, is the ID of a recovery that makes this
	// member a new one-member cluster with its data (etcd's
	// --force-new-cluster), once: the ID is recorded in the data dir.
	ForceNewCluster string
	// KeepStaleData turns off replacing a stale data dir
	// (QUORUM_REPLACE_STALE_DATA=false): Plan fails with ErrStaleData
	// instead of moving it aside and joining as a new member.
	KeepStaleData bool
	// TerminationLog is the file for the container's termination message
	// (written only if it exists); "" = none.
	TerminationLog string

	// AuthToken is etcd's token provider: contract.AuthTokenSimple or
	// contract.AuthTokenJWT.
	AuthToken string
	// AuthTokenKeyDir holds the JWT signing key pair (AuthTokenJWT only),
	// the same on every member.
	AuthTokenKeyDir string
	// AuthTokenTTL is how long a token is valid.
	AuthTokenTTL time.Duration
}

// DefaultAuthTokenTTL is etcd's default token lifetime.
const DefaultAuthTokenTTL = 5 * time.Minute

// AuthTokenPrivateKey is the path of the JWT signing key.
func (s Settings) AuthTokenPrivateKey() string {
	return filepath.Join(s.AuthTokenKeyDir, contract.AuthTokenPrivateKeyFile)
}

// AuthTokenPublicKey is the path of the JWT verification key.
func (s Settings) AuthTokenPublicKey() string {
	return filepath.Join(s.AuthTokenKeyDir, contract.AuthTokenPublicKeyFile)
}

// tokenTTL is AuthTokenTTL, DefaultAuthTokenTTL when not set.
func (s Settings) tokenTTL() time.Duration {
	if s.AuthTokenTTL <= 0 {
		return DefaultAuthTokenTTL
	}
	return s.AuthTokenTTL
}

// authTokenFlag is etcd's --auth-token value for s, e.g.
// "jwt,pub-key=/k/public.pem,priv-key=/k/private.pem,sign-method=ES256,ttl=5m0s".
func (s Settings) authTokenFlag() string {
	if s.AuthToken != contract.AuthTokenJWT {
		return contract.AuthTokenSimple
	}
	return fmt.Sprintf("jwt,pub-key=%s,priv-key=%s,sign-method=%s,ttl=%s",
		s.AuthTokenPublicKey(), s.AuthTokenPrivateKey(), contract.AuthTokenSignMethod, s.tokenTTL())
}
