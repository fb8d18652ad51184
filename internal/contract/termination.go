package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Termination messages. Kubernetes shows what a container wrote to its
// termination log as its terminated.message, read by the operator: the JSON
// report of a Job (backup, restore --verify-only, prune) as the last line,
// or why a member stopped.
const (
	// DefaultTerminationLog is the file Kubernetes reads;
	// EnvTerminationLog overrides it (tests).
	DefaultTerminationLog = "/dev/termination-log"
	// MaxTerminationMessage is what Kubernetes keeps of a message.
	MaxTerminationMessage = 4000
	// DataLostMarker is in the termination message of a member that has
	// run before (the cluster lists it as started) but whose data dir is
	// empty: it must be removed and added again.
	DataLostMarker = "member data lost"
)

// TerminationLogPath is EnvTerminationLog if set, else DefaultTerminationLog.
func TerminationLogPath(lookup func(string) (string, bool)) string {
	if v, ok := lookup(EnvTerminationLog); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return DefaultTerminationLog
}

// WriteTerminationMessage replaces the content of the termination log at
// path with msg, cut to MaxTerminationMessage. The file is never created:
// outside a pod, or with path "", nothing is written and nil returned.
func WriteTerminationMessage(path, msg string) error {
	if path == "" {
		return nil
	}
	if len(msg) > MaxTerminationMessage {
		msg = msg[:MaxTerminationMessage-3] + "..."
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening the termination log %s: %w", path, err)
	}
	_, err = f.WriteString(msg)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the termination log %s: %w", path, err)
	}
	return nil
}

// ReportsDataLost reports whether a member's termination message says its
// data is lost.
func ReportsDataLost(msg string) bool { return strings.Contains(msg, DataLostMarker) }

// BackupReport is the part of quorum-etcd backup's report (its manifest)
// that the operator keeps in EtcdBackup status.
type BackupReport struct {
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	StoredSize   int64  `json:"storedSize"`
	EtcdRevision int64  `json:"etcdRevision"`
	ClusterID    string `json:"clusterID"`
	EtcdVersion  string `json:"etcdVersion"`
	Location     string `json:"location"`
}

// VerifyReport is the report of quorum-etcd restore --verify-only.
type VerifyReport struct {
	Verified    bool   `json:"verified"`
	Location    string `json:"location"`
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	Revision    int64  `json:"revision"`
	EtcdVersion string `json:"etcdVersion"`
	ClusterID   string `json:"clusterID,omitempty"`
}

// PruneReport is the report of quorum-etcd prune: the keys removed.
type PruneReport struct {
	Removed []string `json:"removed"`
}

// ReadReport decodes the JSON report on the last line of a termination
// message into v.
func ReadReport(msg string, v any) error {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return errors.New("empty termination message")
	}
	if err := json.Unmarshal([]byte(last), v); err != nil {
		return fmt.Errorf("reading the report %q: %w", last, err)
	}
	return nil
}
