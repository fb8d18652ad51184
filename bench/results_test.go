package bench

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func sampleResults() *Results {
	run := func(context.Context, Env) ([]Value, error) { return nil, nil }
	r := &Results{Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Runs: 3, Machine: Machine{CPU: "Test CPU", Cores: 2}}
	r.Add(Outcome{Bench: Bench{Name: "disk", Calibration: true, Run: run}, Runs: [][]Value{
		{{"fsync p50", "ms", 2}, {"write", "MiB/s", 300}},
		{{"fsync p50", "ms", 1}, {"write", "MiB/s", 100}},
		{{"fsync p50", "ms", 3}},
	}})
	r.Add(Outcome{Bench: Bench{Name: "operator", Run: run, Goals: map[string]*Goal{"reconciles": AtMost(10)}},
		Runs: [][]Value{{{"reconciles", "/min", 12}, {"writes", "/min", 0}}},
		Errs: []error{errors.New("boom"), errors.New("again")}})
	r.Add(Outcome{Bench: Bench{Name: "apply-ready", Doc: "apply to Ready", NeedsCluster: true}, Skipped: NoCluster})
	return r
}

func TestAddGroupsRuns(t *testing.T) {
	r := sampleResults()
	cal := r.Machine.Calibration
	if len(cal) != 2 || cal[0].Name != "fsync p50" || cal[1].Name != "write" {
		t.Fatalf("calibration metrics = %+v", cal)
	}
	if got := cal[0]; got.Median != 2 || got.Min != 1 || got.Max != 3 || len(got.Runs) != 3 || got.Unit != "ms" {
		t.Errorf("fsync p50 = %+v", got)
	}
	if got := cal[1]; got.Median != 200 || len(got.Runs) != 2 {
		t.Errorf("write = %+v, want median 200 over 2 runs", got)
	}
	if len(r.Metrics) != 2 || r.Metrics[0].Bench != "operator" {
		t.Errorf("metrics = %+v", r.Metrics)
	}
	if len(r.Failed) != 1 || !strings.Contains(r.Failed[0].Reason, "2 of 3 runs failed: boom") {
		t.Errorf("failed = %+v", r.Failed)
	}
	if len(r.Skipped) != 1 || r.Skipped[0].Bench != "apply-ready" {
		t.Errorf("skipped = %+v", r.Skipped)
	}
}

func TestMarkdown(t *testing.T) {
	md := sampleResults().Markdown()
	for _, want := range []string{
		"Each metric ran 3 times",
		"| CPU | Test CPU, 2 cores |",
		"## Calibration",
		"| disk | fsync p50 | 2.00 | 1.00 | 3.00 | 100% | ms | 3 |",
		"| disk | write | 200 | 100 | 300 | 100% | MiB/s | 2 |",
		"| operator | reconciles | 12.0 | 12.0 | 12.0 | 0% | /min | 1 | ≤ 10.0 **not met** |",
		"| operator | writes | 0 | 0 | 0 | 0% | /min | 1 |  |",
		"- apply-ready (apply to Ready): skipped: no cluster (set BENCH_KUBECONFIG)",
		"## Failed",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Index(md, "## Calibration") > strings.Index(md, "## Operator and clusters") {
		t.Error("calibration should come before the operator metrics")
	}
}

func TestGoal(t *testing.T) {
	for _, c := range []struct {
		g    *Goal
		v    float64
		text string
		met  bool
	}{
		{nil, 5, "", true},
		{AtMost(0.5), 0.5, "≤ 0.500", true},
		{AtMost(0.5), 0.51, "≤ 0.500", false},
		{AtLeast(150), 149, "≥ 150", false},
		{AtLeast(150), 151, "≥ 150", true},
	} {
		if got := c.g.String(); got != c.text {
			t.Errorf("%v.String() = %q, want %q", c.g, got, c.text)
		}
		if got := c.g.Met(c.v); got != c.met {
			t.Errorf("%s met by %v = %v, want %v", c.text, c.v, got, c.met)
		}
	}
}

func TestJSON(t *testing.T) {
	b, err := sampleResults().JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Machine struct {
			Calibration []map[string]any `json:"calibration"`
		} `json:"machine"`
		Skipped []Note `json:"skipped"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	m := back.Machine.Calibration[0]
	if m["median"] != 2.0 || m["min"] != 1.0 || m["max"] != 3.0 || m["spread_pct"] != 100.0 || m["unit"] != "ms" {
		t.Errorf("calibration[0] = %v", m)
	}
	if back.Skipped[0].Reason != NoCluster {
		t.Errorf("skipped = %+v", back.Skipped)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{0, "0"}, {1234.6, "1235"}, {42.25, "42.2"}, {3.14159, "3.14"}, {0.5, "0.500"}, {0.012345, "0.0123"}, {-2.5, "-2.50"}} {
		if got := Format(tc.v); got != tc.want {
			t.Errorf("Format(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestRegisterPlaceholder(t *testing.T) {
	saved := registry
	defer func() { registry = saved }()
	run := func(context.Context, Env) ([]Value, error) { return nil, nil }
	registry = nil
	Register(Bench{Name: "a", NeedsCluster: true})
	Register(Bench{Name: "a", Run: run, Doc: "real"})
	Register(Bench{Name: "b", Run: run, Doc: "real"})
	Register(Bench{Name: "b"})
	Register(Bench{Name: "cal", Calibration: true, Run: run})
	got := Registered()
	if len(got) != 3 || got[0].Name != "cal" || got[1].Doc != "real" || got[2].Doc != "real" {
		t.Errorf("Registered() = %+v", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("a second real bench of the same name did not panic")
		}
	}()
	Register(Bench{Name: "a", Run: run})
}
