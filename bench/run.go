package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

// NoCluster is the skip reason of NeedsCluster benches without kubeconfig.
const NoCluster = "no cluster (set BENCH_KUBECONFIG)"

// Options of a whole benchmark run.
type Options struct {
	Env  Env
	Runs int
	// Only lists the bench names to run; empty runs all.
	Only []string
	// Timeout bounds one run of one bench.
	Timeout time.Duration
	// Args are passed on to each child process (the command's flags).
	Args []string
}

// childResult is what a child writes on stdout.
type childResult struct {
	Values []Value `json:"values"`
	Error  string  `json:"error,omitempty"`
}

// RunAll runs the selected benches o.Runs times each; every run is a child
// process (this executable with -child NAME), so that memory, CPU time and
// global state of one run do not leak into the next.
func RunAll(ctx context.Context, o Options) []Outcome {
	var out []Outcome
	for _, b := range Registered() {
		if len(o.Only) > 0 && !slices.Contains(o.Only, b.Name) {
			continue
		}
		oc := Outcome{Bench: b}
		switch {
		case b.NeedsCluster && o.Env.Kubeconfig == "":
			oc.Skipped = NoCluster
		case b.Run == nil:
			oc.Skipped = "not written yet"
		default:
			for i := range o.Runs {
				o.Env.Logf("== %s: run %d of %d", b.Name, i+1, o.Runs)
				vs, err := runChild(ctx, b.Name, o)
				if err != nil {
					o.Env.Logf("== %s: run %d failed: %v", b.Name, i+1, err)
					oc.Errs = append(oc.Errs, err)
					continue
				}
				for _, v := range vs {
					o.Env.Logf("   %-48s %10s %s", v.Name, Format(v.Value), v.Unit)
				}
				oc.Runs = append(oc.Runs, vs)
			}
		}
		out = append(out, oc)
	}
	return out
}

func runChild(ctx context.Context, name string, o Options) ([]Value, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, append([]string{"-child", name}, o.Args...)...)
	// On timeout, let the child stop what it started (envtest, etcd).
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = o.Env.Log
	runErr := cmd.Run()
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		if runErr != nil {
			return nil, runErr
		}
		return nil, fmt.Errorf("reading child output: %w", err)
	}
	if res.Error != "" {
		return nil, errors.New(res.Error)
	}
	return res.Values, runErr
}

// Child runs bench name once and writes its values as JSON to w.
func Child(ctx context.Context, name string, env Env, w io.Writer) error {
	b, ok := Lookup(name)
	if !ok || b.Run == nil {
		return fmt.Errorf("no bench %q", name)
	}
	vs, err := b.Run(ctx, env)
	res := childResult{Values: vs}
	if err != nil {
		res.Error = err.Error()
	}
	return json.NewEncoder(w).Encode(res)
}
