package bench

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the benchmarks ran.
type Machine struct {
	CPU     string `json:"cpu"`
	Cores   int    `json:"cores"`
	Kernel  string `json:"kernel"`
	Go      string `json:"go"`
	OSArch  string `json:"os_arch"`
	DiskDir string `json:"disk_dir"`
	DiskFS  string `json:"disk_fs"`
	// Calibration holds the metrics of Calibration benches.
	Calibration []Metric `json:"calibration"`
}

// Metric is one named figure over all runs.
type Metric struct {
	Bench string    `json:"bench"`
	Name  string    `json:"name"`
	Unit  string    `json:"unit"`
	Runs  []float64 `json:"runs"`
	// Goal of the median, if the bench names one.
	Goal *Goal `json:"goal,omitempty"`
	Summary
}

// Note says why a bench has no or incomplete results.
type Note struct {
	Bench  string `json:"bench"`
	Doc    string `json:"doc"`
	Reason string `json:"reason"`
}

// Results is everything written to results.json.
type Results struct {
	Date     time.Time         `json:"date"`
	Runs     int               `json:"runs"`
	Settings map[string]string `json:"settings"`
	Machine  Machine           `json:"machine"`
	Metrics  []Metric          `json:"metrics"`
	Skipped  []Note            `json:"skipped"`
	Failed   []Note            `json:"failed"`
	// Kept lists the benches whose results come from an earlier run
	// (bench -merge).
	Kept []Kept `json:"kept,omitempty"`
}

// Outcome is what the runner got from one bench.
type Outcome struct {
	Bench Bench
	// Runs holds the values of each successful run.
	Runs [][]Value
	// Errs holds the error of each failed run.
	Errs []error
	// Skipped is the reason the bench did not run, if it did not.
	Skipped string
}

// Add files the outcome of one bench into r.
func (r *Results) Add(o Outcome) {
	b := o.Bench
	if o.Skipped != "" {
		r.Skipped = append(r.Skipped, Note{b.Name, b.Doc, o.Skipped})
		return
	}
	if len(o.Errs) > 0 {
		r.Failed = append(r.Failed, Note{b.Name, b.Doc,
			fmt.Sprintf("%d of %d runs failed: %v", len(o.Errs), len(o.Errs)+len(o.Runs), o.Errs[0])})
	}
	ms := group(b.Name, o.Runs)
	for i := range ms {
		ms[i].Goal = b.Goals[ms[i].Name]
	}
	if b.Calibration {
		r.Machine.Calibration = append(r.Machine.Calibration, ms...)
	} else {
		r.Metrics = append(r.Metrics, ms...)
	}
}

// group groups the values of the runs by name, in first-seen order.
func group(bench string, runs [][]Value) []Metric {
	var out []Metric
	index := map[string]int{}
	for _, run := range runs {
		for _, v := range run {
			i, ok := index[v.Name]
			if !ok {
				i = len(out)
				index[v.Name] = i
				out = append(out, Metric{Bench: bench, Name: v.Name, Unit: v.Unit})
			}
			out[i].Runs = append(out[i].Runs, v.Value)
		}
	}
	for i := range out {
		out[i].Summary = Summarize(out[i].Runs)
	}
	return out
}

// JSON renders r, indented.
func (r *Results) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Markdown renders r as a short human report.
func (r *Results) Markdown() string {
	var w strings.Builder
	fmt.Fprintf(&w, "# Benchmarks\n\n")
	fmt.Fprintf(&w, "Written by `make bench` on %s. Each metric ran %d times, each run in a fresh process; "+
		"the tables give the median, the range and the spread ((max-min)/median).\n\n",
		r.Date.UTC().Format("2006-01-02 15:04 MST"), r.Runs)
	if len(r.Kept) > 0 {
		fmt.Fprintf(&w, "%s\n\n", keptLine(r.Kept))
	}
	m := r.Machine
	fmt.Fprintf(&w, "## Machine\n\n| | |\n|---|---|\n")
	fmt.Fprintf(&w, "| CPU | %s, %d cores |\n| Kernel | %s |\n| Go | %s %s |\n| Disk dir | `%s` (%s) |\n",
		m.CPU, m.Cores, m.Kernel, m.Go, m.OSArch, m.DiskDir, m.DiskFS)
	for _, k := range sortedKeys(r.Settings) {
		fmt.Fprintf(&w, "| %s | %s |\n", k, r.Settings[k])
	}
	if len(m.Calibration) > 0 {
		fmt.Fprintf(&w, "\n## Calibration\n\n")
		table(&w, m.Calibration)
	}
	if len(r.Metrics) > 0 {
		fmt.Fprintf(&w, "\n## Operator and clusters\n\n")
		table(&w, r.Metrics)
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(&w, "\n## Skipped\n\n")
		for _, n := range r.Skipped {
			fmt.Fprintf(&w, "- %s (%s): skipped: %s\n", n.Bench, n.Doc, n.Reason)
		}
	}
	if len(r.Failed) > 0 {
		fmt.Fprintf(&w, "\n## Failed\n\n")
		for _, n := range r.Failed {
			fmt.Fprintf(&w, "- %s (%s): %s\n", n.Bench, n.Doc, n.Reason)
		}
	}
	return w.String()
}

func table(w *strings.Builder, ms []Metric) {
	fmt.Fprintf(w, "| Bench | Metric | Median | Min | Max | Spread | Unit | Runs | Goal |\n|---|---|--:|--:|--:|--:|---|--:|---|\n")
	for _, m := range ms {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s%% | %s | %d | %s |\n", m.Bench, m.Name,
			Format(m.Median), Format(m.Min), Format(m.Max), Format(m.Spread), m.Unit, len(m.Runs), goalCell(m))
	}
}

// goalCell is the goal and whether the median meets it: "≤ 0.5 met" or
// "≤ 0.5 **not met**"; empty without a goal.
func goalCell(m Metric) string {
	g := m.Goal
	if g == nil {
		// Figures kept from a run before the goal was set.
		if b, ok := Lookup(m.Bench); ok {
			g = b.Goals[m.Name]
		}
	}
	if g == nil {
		return ""
	}
	if g.Met(m.Median) {
		return g.String() + " met"
	}
	return g.String() + " **not met**"
}

// Format prints v with about three significant digits, without exponent.
func Format(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	case a >= 100 || a == 0:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', min(9, 2-int(math.Floor(math.Log10(a)))), 64)
	}
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
