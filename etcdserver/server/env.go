package server

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"quorum.dev/etcd-operator/internal/contract"
)

// Environment variables read by FromEnv: the contract with the operator,
// which renders them into the pod (see package contract).
const (
	EnvPodName             = contract.EnvPodName
	EnvPodNamespace        = contract.EnvPodNamespace
	EnvPeerService         = contract.EnvPeerService
	EnvClusterDomain       = contract.EnvClusterDomain
	EnvInitialCluster      = contract.EnvInitialCluster
	EnvInitialClusterState = contract.EnvInitialClusterState
	EnvClusterToken        = contract.EnvClusterToken
	EnvForceNewCluster     = contract.EnvForceNewCluster
	EnvDataDir             = contract.EnvDataDir
	EnvConfigFile          = contract.EnvConfigFile
	EnvServerTLSDir        = contract.EnvServerTLSDir
	EnvPeerTLSDir          = contract.EnvPeerTLSDir
	EnvReadyTimeout        = contract.EnvReadyTimeout
	EnvReplaceStaleData    = contract.EnvReplaceStaleData
	EnvTerminationLog      = contract.EnvTerminationLog
	EnvTLSMigration        = contract.EnvTLSMigration
	EnvAuthToken           = contract.EnvAuthToken
	EnvAuthTokenKeyDir     = contract.EnvAuthTokenKeyDir
	EnvAuthTokenTTL        = contract.EnvAuthTokenTTL
)

// Defaults for optional variables.
const (
	DefaultClusterDomain  = contract.DefaultClusterDomain
	DefaultDataDir        = "/var/lib/etcd/data"
	DefaultTerminationLog = contract.DefaultTerminationLog
	// listenHost is the address the member listens on inside the pod.
	listenHost = "0.0.0.0"
)

var (
	dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsNameRE  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// LookupFunc is the signature of os.LookupEnv.
type LookupFunc func(key string) (string, bool)

// FromEnv derives Settings from the pod environment. It reports every problem
// it finds at once. The config file, if any, is validated here too, so a bad
// file fails before anything touches the data dir.
func FromEnv(lookup LookupFunc) (Settings, error) {
	var errs []error
	get := func(key, def string) string {
		if v, ok := lookup(key); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	required := func(key string) string {
		v := get(key, "")
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", key))
		}
		return v
	}
	dnsLabel := func(key, v string) {
		if v == "" {
			return
		}
		if len(v) > 63 || !dnsLabelRE.MatchString(v) {
			errs = append(errs, fmt.Errorf("%s %q is not a DNS label (lower-case alphanumerics and '-', at most 63)", key, v))
		}
	}

	podName := required(EnvPodName)
	namespace := required(EnvPodNamespace)
	peerService := required(EnvPeerService)
	domain := get(EnvClusterDomain, DefaultClusterDomain)
	dnsLabel(EnvPodName, podName)
	dnsLabel(EnvPodNamespace, namespace)
	dnsLabel(EnvPeerService, peerService)
	if len(domain) > 253 || !dnsNameRE.MatchString(domain) {
		errs = append(errs, fmt.Errorf("%s %q is not a DNS name", EnvClusterDomain, domain))
	}

	s := Settings{
		Name:              podName,
		DataDir:           get(EnvDataDir, DefaultDataDir),
		ClusterState:      required(EnvInitialClusterState),
		ClusterToken:      get(EnvClusterToken, ""),
		ServerTLS:         TLSDir(get(EnvServerTLSDir, "")),
		PeerTLS:           TLSDir(get(EnvPeerTLSDir, "")),
		ConfigFile:        get(EnvConfigFile, ""),
		ReadyTimeout:      DefaultReadyTimeout,
		MemberListTimeout: DefaultMemberListTimeout,
		JoinWait:          DefaultJoinWait,
		TerminationLog:    get(EnvTerminationLog, DefaultTerminationLog),
		ForceNewCluster:   forceNewClusterID(get(EnvForceNewCluster, ""), podName),
		TLSMigration:      get(EnvTLSMigration, ""),
		AuthToken:         get(EnvAuthToken, contract.AuthTokenSimple),
		AuthTokenKeyDir:   get(EnvAuthTokenKeyDir, ""),
		AuthTokenTTL:      DefaultAuthTokenTTL,
	}
	errs = append(errs, checkAuthToken(&s, get(EnvAuthTokenTTL, ""))...)

	switch s.TLSMigration {
	case "":
	case contract.TLSMigrationListen, contract.TLSMigrationAdvertise:
		if !s.ServerTLS.Enabled() || !s.PeerTLS.Enabled() {
			errs = append(errs, fmt.Errorf("%s %q needs both %s and %s", EnvTLSMigration, s.TLSMigration, EnvServerTLSDir, EnvPeerTLSDir))
		}
	default:
		errs = append(errs, fmt.Errorf("%s must be %q or %q, got %q", EnvTLSMigration, contract.TLSMigrationListen, contract.TLSMigrationAdvertise, s.TLSMigration))
	}

	switch s.ClusterState {
	case "", ClusterStateNew, ClusterStateExisting:
	default:
		errs = append(errs, fmt.Errorf("%s must be %q or %q, got %q",
			EnvInitialClusterState, ClusterStateNew, ClusterStateExisting, s.ClusterState))
	}
	if s.ClusterState == ClusterStateNew && s.ClusterToken == "" {
		errs = append(errs, fmt.Errorf("%s is required when %s is %q", EnvClusterToken, EnvInitialClusterState, ClusterStateNew))
	}

	if v := get(EnvReadyTimeout, ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%s %q is not a non-negative duration", EnvReadyTimeout, v))
		}
		s.ReadyTimeout = d
	}

	if v := get(EnvReplaceStaleData, ""); v != "" {
		replace, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not a boolean", EnvReplaceStaleData, v))
		}
		s.KeepStaleData = err == nil && !replace
	}

	if ic := get(EnvInitialCluster, ""); ic != "" {
		peers, err := ParseInitialCluster(ic)
		if err != nil {
			errs = append(errs, fmt.Errorf("parsing %s: %w", EnvInitialCluster, err))
		}
		s.InitialCluster = peers
	}

	for _, d := range []struct {
		key string
		dir TLSDir
	}{{EnvServerTLSDir, s.ServerTLS}, {EnvPeerTLSDir, s.PeerTLS}} {
		if err := checkTLSDir(d.dir); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.key, err))
		}
	}

	if s.ConfigFile != "" {
		if _, err := LoadOptions(s.ConfigFile); err != nil {
			if _, statErr := os.Stat(s.ConfigFile); statErr != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvConfigFile, err))
			} else {
				// The file holds the user's spec.etcdOptions; etcd's
				// own parser refused them.
				errs = append(errs, fmt.Errorf("spec.etcdOptions refused by etcd: %w", err))
			}
		}
	}

	if len(errs) > 0 {
		return Settings{}, fmt.Errorf("invalid settings: %w", errors.Join(errs...))
	}

	host := MemberHost(podName, peerService, namespace, domain)
	clientScheme, peerScheme := s.ServerTLS.Scheme(), s.PeerTLS.Scheme()
	switch s.TLSMigration {
	case contract.TLSMigrationListen:
		// Still http for everyone who asks; https listened on besides.
		clientScheme, peerScheme = "http", "http"
		s.ExtraListenClientURLs = []url.URL{hostURL("https", listenHost, ClientPort)}
		s.ExtraListenPeerURLs = []url.URL{hostURL("https", listenHost, PeerMigrationPort)}
	case contract.TLSMigrationAdvertise:
		s.ExtraListenClientURLs = []url.URL{hostURL("http", listenHost, ClientPort)}
		s.ExtraListenPeerURLs = []url.URL{hostURL("https", listenHost, PeerMigrationPort)}
	}
	s.AdvertisePeerURL = hostURL(peerScheme, host, PeerPort)
	s.AdvertiseClientURL = hostURL(clientScheme, host, ClientPort)
	s.ListenPeerURL = hostURL(peerScheme, listenHost, PeerPort)
	s.ListenClientURL = hostURL(clientScheme, listenHost, ClientPort)
	s.ListenMetricsURL = hostURL("http", listenHost, MetricsPort)
	s.JoinEndpoints = ClientEndpoints(s.InitialCluster, s.Name, clientScheme, ClientPort)
	return s, nil
}

// MemberHost is the stable DNS name of a member behind the headless peer
// Service: <pod>.<service>.<namespace>.svc.<domain>.
func MemberHost(podName, peerService, namespace, domain string) string {
	return contract.MemberHost(podName, peerService, namespace, domain)
}

// ClientEndpoints derives the client URLs of every peer except self: same
// host as the peer URL, the given scheme and client port.
func ClientEndpoints(peers []Peer, self, scheme string, clientPort int) []string {
	var eps []string
	for _, p := range peers {
		if p.Name == self {
			continue
		}
		u := hostURL(scheme, p.URL.Hostname(), clientPort)
		eps = append(eps, u.String())
	}
	return eps
}

// ParseInitialCluster parses "name=peerURL,name=peerURL". Names must be
// unique and URLs must be http(s)://host:port.
func ParseInitialCluster(s string) ([]Peer, error) {
	var peers []Peer
	seen := map[string]bool{}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		name, raw, ok := strings.Cut(entry, "=")
		if !ok || name == "" || raw == "" {
			return nil, fmt.Errorf("entry %q is not name=peerURL", entry)
		}
		if seen[name] {
			return nil, fmt.Errorf("member %q is listed twice", name)
		}
		seen[name] = true
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("peer URL of %q: %w", name, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("peer URL %q of %q must be http or https", raw, name)
		}
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || u.Path != "" {
			return nil, fmt.Errorf("peer URL %q of %q must be scheme://host:port", raw, name)
		}
		peers = append(peers, Peer{Name: name, URL: *u})
	}
	return peers, nil
}

// FormatInitialCluster is the inverse of ParseInitialCluster.
func FormatInitialCluster(peers []Peer) string {
	parts := make([]string, 0, len(peers))
	for _, p := range peers {
		parts = append(parts, p.Name+"="+p.URL.String())
	}
	return strings.Join(parts, ",")
}

func hostURL(scheme, host string, port int) url.URL {
	return url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
}

func checkTLSDir(d TLSDir) error {
	if !d.Enabled() {
		return nil
	}
	for _, f := range []string{d.CertFile(), d.KeyFile(), d.CAFile()} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("checking TLS file: %w", err)
		}
	}
	return nil
}

// forceNewClusterID is the ID of a forced new cluster meant for this
// member ("<member>/<id>" names it), else "".
func forceNewClusterID(v, name string) string {
	member, id, ok := strings.Cut(v, "/")
	if !ok || member != name || id == "" {
		return ""
	}
	return id
}

// checkAuthToken checks the token settings of s and sets its TTL from ttl
// (a Go duration, "" for the default).
func checkAuthToken(s *Settings, ttl string) []error {
	var errs []error
	if ttl != "" {
		d, err := time.ParseDuration(ttl)
		if err != nil || d < time.Second {
			errs = append(errs, fmt.Errorf("%s %q is not a duration of at least 1s", EnvAuthTokenTTL, ttl))
		}
		s.AuthTokenTTL = d
	}
	switch s.AuthToken {
	case contract.AuthTokenSimple:
	case contract.AuthTokenJWT:
		if s.AuthTokenKeyDir == "" {
			errs = append(errs, fmt.Errorf("%s is required when %s is %q", EnvAuthTokenKeyDir, EnvAuthToken, contract.AuthTokenJWT))
			break
		}
		if strings.ContainsAny(s.AuthTokenKeyDir, ",=") {
			// etcd splits --auth-token at commas and equal signs.
			errs = append(errs, fmt.Errorf("%s %q may not contain ',' or '='", EnvAuthTokenKeyDir, s.AuthTokenKeyDir))
			break
		}
		for _, f := range []string{s.AuthTokenPrivateKey(), s.AuthTokenPublicKey()} {
			if _, err := os.Stat(f); err != nil {
				errs = append(errs, fmt.Errorf("%s: checking the JWT signing key: %w", EnvAuthTokenKeyDir, err))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("%s must be %q or %q, got %q", EnvAuthToken, contract.AuthTokenSimple, contract.AuthTokenJWT, s.AuthToken))
	}
	return errs
}
