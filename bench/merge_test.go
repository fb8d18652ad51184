package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMergeKeepsWhatDidNotRun(t *testing.T) {
	run := func(context.Context, Env) ([]Value, error) { return nil, nil }
	// old: disk and operator measured, apply-ready skipped (no cluster).
	old := sampleResults()
	old.Settings = map[string]string{"Kubeconfig": "none"}
	path := filepath.Join(t.TempDir(), "results.json")
	js, err := old.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, js, 0o644); err != nil {
		t.Fatal(err)
	}
	old, err = ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}

	// new: apply-ready measured, operator skipped this time; disk not run.
	r := &Results{Date: old.Date.Add(time.Hour), Runs: 2, Settings: map[string]string{"Kubeconfig": "k"}}
	r.Add(Outcome{Bench: Bench{Name: "apply-ready", NeedsCluster: true, Run: run}, Runs: [][]Value{{{"ready", "s", 20}}}})
	r.Add(Outcome{Bench: Bench{Name: "operator"}, Skipped: "not this time"})
	r.Merge(old)

	if len(r.Machine.Calibration) != 2 || r.Machine.Calibration[0].Bench != "disk" {
		t.Errorf("calibration = %+v, want disk's kept", r.Machine.Calibration)
	}
	var benches []string
	for _, m := range r.Metrics {
		benches = append(benches, m.Bench)
	}
	if len(benches) != 3 || !contains(benches, "operator") || !contains(benches, "apply-ready") {
		t.Errorf("metrics of %v, want operator (kept) and apply-ready (new)", benches)
	}
	if len(r.Skipped) != 0 {
		t.Errorf("skipped = %+v: apply-ready ran and operator's skip gives way to its kept figures", r.Skipped)
	}
	if len(r.Failed) != 1 || r.Failed[0].Bench != "operator" {
		t.Errorf("failed = %+v, want operator's kept", r.Failed)
	}
	if len(r.Kept) != 2 {
		t.Fatalf("kept = %+v, want disk and operator", r.Kept)
	}
	for _, k := range r.Kept {
		if !k.Date.Equal(old.Date) || k.Settings["Kubeconfig"] != "none" {
			t.Errorf("kept %+v: want the old date and settings", k)
		}
	}
	md := r.Markdown()
	if !strings.Contains(md, "Kept from earlier runs (`-merge`): disk, operator from the run of 2026-01-02 03:04 UTC (Kubeconfig none).") {
		t.Errorf("markdown lacks the kept line:\n%s", md)
	}

	// Merging again keeps the original dates.
	again := &Results{Date: r.Date.Add(time.Hour)}
	again.Merge(r)
	for _, k := range again.Kept {
		if k.Bench == "disk" && !k.Date.Equal(old.Date) {
			t.Errorf("disk kept with date %v, want %v", k.Date, old.Date)
		}
		if k.Bench == "apply-ready" && !k.Date.Equal(r.Date) {
			t.Errorf("apply-ready kept with date %v, want %v", k.Date, r.Date)
		}
	}
}
