package bench

import "testing"

func TestParseCheckPerf(t *testing.T) {
	cases := []struct {
		name, out string
		pass      bool
		slowest   float64
		ok        bool
	}{
		{"pass", " 60 / 60 Booooooo! 100.00% 1m0s\nPASS: Throughput is 151 writes/s\nPASS: Slowest request took 0.011883s\nPASS: Stddev is 0.000813s\nPASS\n", true, 0.011883, true},
		{"fail on the slowest request", "100.00% 1 p/sPASS: Throughput is 146 writes/s\nSlowest request took too long: 1.006185s\nStddev too high: 0.145627s\nFAIL\n", false, 1.006185, true},
		{"no verdict", "Error: context deadline exceeded\n", false, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pass, slowest, ok := parseCheckPerf(tc.out)
			if pass != tc.pass || slowest != tc.slowest || ok != tc.ok {
				t.Errorf("parseCheckPerf = %v %v %v, want %v %v %v", pass, slowest, ok, tc.pass, tc.slowest, tc.ok)
			}
		})
	}
}
