package server

import (
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// Mode is how the member starts.
type Mode string

const (
	// ModeRestart: the data dir already holds a member; etcd restarts it
	// from its WAL and ignores every initial-cluster setting.
	ModeRestart Mode = "restart"
	// ModeNew: bootstrap a new cluster from QUORUM_INITIAL_CLUSTER.
	ModeNew Mode = "new"
	// ModeJoin: join an existing cluster that already lists this member
	// (usually as a learner added by the operator).
	ModeJoin Mode = "join"
)

// Bootstrap is the outcome of Plan: the start mode and, for ModeNew and
// ModeJoin, the initial cluster to hand to etcd.
type Bootstrap struct {
	Mode           Mode
	InitialCluster []Peer
	// ForceNewCluster restarts the member as a new one-member cluster
	// (ModeRestart only).
	ForceNewCluster bool
}

// EmbedConfig builds the etcd configuration for s started as b. The extra
// options file, if any, is the base; every key quorum-etcd controls is then
// set here, so the file cannot override it (LoadOptions rejects those keys
// anyway). The returned config has been validated by etcd.
func (s Settings) EmbedConfig(b Bootstrap) (*embed.Config, error) {
	cfg := embed.NewConfig()
	if s.ConfigFile != "" {
		var err error
		if cfg, err = LoadOptions(s.ConfigFile); err != nil {
			return nil, err
		}
	}

	cfg.Name = s.Name
	cfg.Dir = s.DataDir
	cfg.WalDir = ""

	cfg.ListenPeerUrls = append([]url.URL{s.ListenPeerURL}, s.ExtraListenPeerURLs...)
	cfg.ListenClientUrls = append([]url.URL{s.ListenClientURL}, s.ExtraListenClientURLs...)
	cfg.ListenClientHttpUrls = nil
	cfg.ListenMetricsUrls = []url.URL{s.ListenMetricsURL}
	cfg.AdvertisePeerUrls = []url.URL{s.AdvertisePeerURL}
	cfg.AdvertiseClientUrls = []url.URL{s.AdvertiseClientURL}

	cfg.ClientTLSInfo = mutualTLS(s.ServerTLS)
	cfg.PeerTLSInfo = mutualTLS(s.PeerTLS)
	cfg.ClientAutoTLS = false
	cfg.PeerAutoTLS = false

	cfg.Logger = "zap"
	cfg.LogOutputs = []string{embed.StdErrLogOutput}
	cfg.LogFormat = "json"
	cfg.EnableLogRotation = false
	// Only a recovery the operator asked for (see Bootstrap), never the
	// options file.
	cfg.ForceNewCluster = b.Mode == ModeRestart && b.ForceNewCluster

	// Tokens: simple tokens live TTL after their last use (whole seconds);
	// jwt ones TTL after they were issued.
	cfg.AuthToken = s.authTokenFlag()
	cfg.AuthTokenTTL = uint(s.tokenTTL() / time.Second)

	cfg.InitialClusterToken = s.ClusterToken
	cfg.DNSCluster = ""
	cfg.DNSClusterServiceName = ""
	switch b.Mode {
	case ModeRestart:
		// etcd ignores the initial cluster when the WAL exists; it only has
		// to pass validation.
		cfg.InitialCluster = FormatInitialCluster([]Peer{{Name: s.Name, URL: s.AdvertisePeerURL}})
		cfg.ClusterState = embed.ClusterStateFlagExisting
	case ModeNew:
		cfg.InitialCluster = FormatInitialCluster(b.InitialCluster)
		cfg.ClusterState = embed.ClusterStateFlagNew
	case ModeJoin:
		cfg.InitialCluster = FormatInitialCluster(b.InitialCluster)
		cfg.ClusterState = embed.ClusterStateFlagExisting
	default:
		return nil, fmt.Errorf("unknown bootstrap mode %q", b.Mode)
	}
	if b.Mode != ModeRestart && len(b.InitialCluster) == 0 {
		return nil, fmt.Errorf("bootstrap mode %q needs an initial cluster", b.Mode)
	}

	if err := enableCorruptionChecks(cfg); err != nil {
		return nil, err
	}

	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("validating etcd configuration: %w", err)
	}
	return cfg, nil
}

// mutualTLS is the TLS of one side: our certificate, and client certificates
// required and verified against ca.crt.
func mutualTLS(d TLSDir) transport.TLSInfo {
	if !d.Enabled() {
		return transport.TLSInfo{}
	}
	return transport.TLSInfo{
		CertFile:       d.CertFile(),
		KeyFile:        d.KeyFile(),
		TrustedCAFile:  d.CAFile(),
		ClientCertAuth: true,
	}
}
