package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ForceNewClusterMarker, in the data dir, holds the ID of the last forced
// new cluster this member started, so that a restart of the same recovery
// is a plain restart.
const ForceNewClusterMarker = "quorum-force-new-cluster"

// forceNewClusterPending: a recovery names this member and it has not
// started it yet.
func forceNewClusterPending(s Settings) bool {
	if s.ForceNewCluster == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(s.DataDir, ForceNewClusterMarker))
	return err != nil || strings.TrimSpace(string(b)) != s.ForceNewCluster
}

// recordForceNewCluster writes the marker once etcd runs as the new cluster.
func recordForceNewCluster(s Settings) error {
	p := filepath.Join(s.DataDir, ForceNewClusterMarker)
	if err := os.WriteFile(p+".tmp", []byte(s.ForceNewCluster+"\n"), 0o600); err != nil {
		return fmt.Errorf("recording the forced new cluster: %w", err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return fmt.Errorf("recording the forced new cluster: %w", err)
	}
	return nil
}
