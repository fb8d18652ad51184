package main

import (
	"path/filepath"
	"testing"
)

func TestRunDispatch(t *testing.T) {
	for _, k := range []string{"POD_NAME", "POD_NAMESPACE", "QUORUM_PEER_SERVICE", "QUORUM_INITIAL_CLUSTER_STATE"} {
		t.Setenv(k, "")
	}
	// backup and restore write their outcome to the termination log if it
	// exists; point it at a file that does not.
	t.Setenv("QUORUM_TERMINATION_LOG", filepath.Join(t.TempDir(), "absent"))
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"help"}, exitOK},
		{[]string{"--help"}, exitOK},
		{[]string{"restore"}, exitUsage},       // required flags missing
		{[]string{"backup"}, exitUsage},        // same
		{[]string{"backup", "--help"}, exitOK}, // its own help
		{[]string{"unknown-command"}, exitUsage},
		{[]string{"serve", "extra"}, exitUsage},
		{nil, exitFailure},               // serve is the default; the environment is missing
		{[]string{"serve"}, exitFailure}, // same, explicitly
		{[]string{"preflight"}, exitFailure},
		{[]string{"preflight", "extra"}, exitUsage},
	}
	for _, tc := range tests {
		if got := run(tc.args); got != tc.want {
			t.Errorf("run(%q) = %d, want %d", tc.args, got, tc.want)
		}
	}
}
