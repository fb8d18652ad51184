package server

import (
	"fmt"

	"go.etcd.io/etcd/api/v3/version"
)

// Preflight loads the configuration exactly as serve would, from the same
// environment and options file, up to etcd's own validation of the
// resulting embed.Config, and touches nothing else: no data dir, no
// network. The operator runs it (quorum-etcd preflight, in a one-shot Job
// from the new pod template's image) before it restarts the first member
// with a changed spec, so that options this etcd refuses or no longer
// knows stop the rollout before any member is down.
//
// It returns the etcd version the binary embeds, or what serve would have
// failed with (FromEnv's error, LoadOptions' or etcd's validation message).
func Preflight(lookup LookupFunc) (string, error) {
	s, err := FromEnv(lookup)
	if err != nil {
		return "", err
	}
	// A restarting member: the bootstrap mode does not change which
	// options etcd accepts.
	if _, err := s.EmbedConfig(Bootstrap{Mode: ModeRestart}); err != nil {
		return "", fmt.Errorf("building the etcd configuration: %w", err)
	}
	return version.Version, nil
}
