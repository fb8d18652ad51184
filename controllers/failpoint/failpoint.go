// Package failpoint stops the operator at named points between an etcd
// membership change and the Kubernetes writes that follow it, so that tests
// can prove every step is safe to resume after a crash. Failpoints are off
// unless QUORUM_FAILPOINTS lists them (comma-separated names); production
// never sets it.
package failpoint

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// Names of the failpoints.
const (
	AfterAddLearner   = "after-add-learner"
	AfterPromote      = "after-promote"
	AfterMoveLeader   = "after-move-leader"
	AfterRemoveMember = "after-remove-member"
)

// EnvVar lists the enabled failpoints.
const EnvVar = "QUORUM_FAILPOINTS"

var (
	once    sync.Once
	enabled map[string]bool
	// exit ends the process; tests replace it.
	exit = func(name string) {
		fmt.Fprintf(os.Stderr, "failpoint %s: exiting\n", name)
		os.Exit(3)
	}
)

func load() {
	enabled = map[string]bool{}
	for _, n := range strings.Split(os.Getenv(EnvVar), ",") {
		if n = strings.TrimSpace(n); n != "" {
			enabled[n] = true
		}
	}
}

// Hit stops the process if the named failpoint is enabled.
func Hit(name string) {
	once.Do(load)
	if enabled[name] {
		exit(name)
	}
}
