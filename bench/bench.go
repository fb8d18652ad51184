// Package bench measures the machine, the bundled etcd and the operator, and
// writes the results as JSON and Markdown. `make bench` runs it through
// bench/cmd/bench.
//
// A metric is a registered Bench. To add one, put a file in this package:
//
//	func init() {
//		Register(Bench{
//			Name:         "apply-ready",
//			Doc:          "time from apply to Ready of a 3-member cluster",
//			NeedsCluster: true,
//			Run: func(ctx context.Context, env Env) ([]Value, error) {
//				// env.Kubeconfig is set; measure once.
//				return []Value{{Name: "apply→Ready, 3 members", Unit: "s", Value: 42}}, nil
//			},
//		})
//	}
//
// The runner calls Run once per run, each time in a fresh process, and
// reports the median and spread of every Value name over the runs. A Bench
// with NeedsCluster is skipped when no kubeconfig is given.
package bench

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Value is one figure measured by one run.
type Value struct {
	Name  string
	Unit  string
	Value float64
}

// Goal is a target for a metric's median: at most Max or at least Min.
type Goal struct {
	Max *float64 `json:"max,omitempty"`
	Min *float64 `json:"min,omitempty"`
}

// AtMost is the goal "median ≤ x".
func AtMost(x float64) *Goal { return &Goal{Max: &x} }

// AtLeast is the goal "median ≥ x".
func AtLeast(x float64) *Goal { return &Goal{Min: &x} }

// String is "≤ 0.5" or "≥ 150"; empty for no goal.
func (g *Goal) String() string {
	switch {
	case g == nil:
		return ""
	case g.Max != nil:
		return "≤ " + Format(*g.Max)
	case g.Min != nil:
		return "≥ " + Format(*g.Min)
	}
	return ""
}

// Met says whether v meets the goal; true when there is none.
func (g *Goal) Met(v float64) bool {
	switch {
	case g == nil:
		return true
	case g.Max != nil:
		return v <= *g.Max
	case g.Min != nil:
		return v >= *g.Min
	}
	return true
}

// Env is what a Bench gets to work with.
type Env struct {
	// Kubeconfig of the real cluster (BENCH_KUBECONFIG); empty: none.
	Kubeconfig string
	// DiskDir is where disk and etcd data go.
	DiskDir string
	// DiskMiB is the file size of the bandwidth test.
	DiskMiB int
	// EtcdDuration is how long each etcd put load runs.
	EtcdDuration time.Duration
	// Window is the measurement window of steady-state metrics.
	Window time.Duration
	// Sizes are the cluster counts of the operator cost bench.
	Sizes []int
	// BackupMiB is how much data the backup bench puts in its cluster.
	BackupMiB int
	// DefragMiB is the database size of the defragmentation bench, half
	// of it freeable.
	DefragMiB int
	// CRDDir holds the CRDs for envtest.
	CRDDir string
	// Log receives progress lines (stderr).
	Log io.Writer
}

// Logf writes a progress line.
func (e Env) Logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", args...)
	}
}

// Bench is one registered benchmark.
type Bench struct {
	// Name is a short unique id, used by -only.
	Name string
	// Doc says in a few words what is measured.
	Doc string
	// Calibration marks a bench that describes the machine.
	Calibration bool
	// NeedsCluster: skipped unless Env.Kubeconfig is set.
	NeedsCluster bool
	// Goals are targets for the medians of some of its metrics, by metric
	// name (an issue's goal): shown beside the figures, never failing a run.
	Goals map[string]*Goal
	// Run measures once. Nil marks a planned bench, not written yet.
	Run func(ctx context.Context, env Env) ([]Value, error)
}

var registry []Bench

// Register adds b. A planned entry (Run nil) and a real one of the same
// name may come in either order: the real one wins. Other duplicates panic.
func Register(b Bench) {
	for i, old := range registry {
		if old.Name != b.Name {
			continue
		}
		switch {
		case old.Run == nil:
			registry[i] = b
		case b.Run == nil:
		default:
			panic("bench: duplicate name " + b.Name)
		}
		return
	}
	registry = append(registry, b)
}

// Registered returns the benches, calibration first, otherwise in
// registration order.
func Registered() []Bench {
	var cal, rest []Bench
	for _, b := range registry {
		if b.Calibration {
			cal = append(cal, b)
		} else {
			rest = append(rest, b)
		}
	}
	return append(cal, rest...)
}

// Lookup returns the bench called name.
func Lookup(name string) (Bench, bool) {
	for _, b := range registry {
		if b.Name == name {
			return b, true
		}
	}
	return Bench{}, false
}
