package main

import "testing"

func TestRunDispatch(t *testing.T) {
	for _, k := range []string{"POD_NAME", "POD_NAMESPACE", "QUORUM_PEER_SERVICE", "QUORUM_INITIAL_CLUSTER_STATE"} {
		t.Setenv(k, "")
	}
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"help"}, exitOK},
		{[]string{"--help"}, exitOK},
		{[]string{"restore"}, exitUsage}, // not implemented yet
		{[]string{"serve", "extra"}, exitUsage},
		{nil, exitFailure},               // serve is the default; the environment is missing
		{[]string{"serve"}, exitFailure}, // same, explicitly
	}
	for _, tc := range tests {
		if got := run(tc.args); got != tc.want {
			t.Errorf("run(%q) = %d, want %d", tc.args, got, tc.want)
		}
	}
}
