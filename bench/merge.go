package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Kept records that a bench's results come from an earlier run.
type Kept struct {
	Bench string    `json:"bench"`
	Date  time.Time `json:"date"`
	// Settings of that run.
	Settings map[string]string `json:"settings,omitempty"`
}

// ReadResults reads a results.json.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &Results{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return r, nil
}

// Merge keeps from old the results of every bench r has no result of: not
// run this time, or only skipped this time while old has figures or a
// failure. The benches are then ordered as registered (calibration
// first), unknown ones last.
func (r *Results) Merge(old *Results) {
	ran := map[string]bool{}
	for _, m := range slices.Concat(r.Machine.Calibration, r.Metrics) {
		ran[m.Bench] = true
	}
	for _, n := range r.Failed {
		ran[n.Bench] = true
	}
	skipped := map[string]bool{}
	for _, n := range r.Skipped {
		skipped[n.Bench] = true
	}
	hasOld := map[string]bool{}
	for _, m := range slices.Concat(old.Machine.Calibration, old.Metrics) {
		hasOld[m.Bench] = true
	}
	for _, n := range old.Failed {
		hasOld[n.Bench] = true
	}
	keep := func(bench string) bool { return !ran[bench] && (!skipped[bench] || hasOld[bench]) }

	kept := map[string]bool{}
	for _, m := range old.Machine.Calibration {
		if keep(m.Bench) {
			r.Machine.Calibration = append(r.Machine.Calibration, m)
			kept[m.Bench] = true
		}
	}
	for _, m := range old.Metrics {
		if keep(m.Bench) {
			r.Metrics = append(r.Metrics, m)
			kept[m.Bench] = true
		}
	}
	for _, n := range old.Failed {
		if keep(n.Bench) {
			r.Failed = append(r.Failed, currentDoc(n))
			kept[n.Bench] = true
		}
	}
	for _, n := range old.Skipped {
		if keep(n.Bench) && !hasOld[n.Bench] {
			r.Skipped = append(r.Skipped, currentDoc(n))
		}
	}
	// A skip note of this run gives way to the kept figures.
	r.Skipped = slices.DeleteFunc(r.Skipped, func(n Note) bool { return kept[n.Bench] })

	earlier := map[string]Kept{}
	for _, k := range old.Kept {
		earlier[k.Bench] = k
	}
	for b := range kept {
		k, ok := earlier[b]
		if !ok {
			k = Kept{Bench: b, Date: old.Date, Settings: old.Settings}
		}
		r.Kept = append(r.Kept, k)
	}
	r.sortByRegistry()
}

// currentDoc gives n the Doc its bench has now.
func currentDoc(n Note) Note {
	if b, ok := Lookup(n.Bench); ok {
		n.Doc = b.Doc
	}
	return n
}

// sortByRegistry orders metrics, notes and kept entries by the registration
// order of their bench (stable within a bench).
func (r *Results) sortByRegistry() {
	order := map[string]int{}
	for i, b := range Registered() {
		order[b.Name] = i
	}
	rank := func(name string) int {
		if i, ok := order[name]; ok {
			return i
		}
		return len(order)
	}
	byBench := func(a, b string) int { return rank(a) - rank(b) }
	slices.SortStableFunc(r.Machine.Calibration, func(a, b Metric) int { return byBench(a.Bench, b.Bench) })
	slices.SortStableFunc(r.Metrics, func(a, b Metric) int { return byBench(a.Bench, b.Bench) })
	slices.SortStableFunc(r.Skipped, func(a, b Note) int { return byBench(a.Bench, b.Bench) })
	slices.SortStableFunc(r.Failed, func(a, b Note) int { return byBench(a.Bench, b.Bench) })
	slices.SortStableFunc(r.Kept, func(a, b Kept) int { return byBench(a.Bench, b.Bench) })
}

// settingsLine is "k v; k v" in key order.
func settingsLine(s map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(s) {
		parts = append(parts, k+" "+s[k])
	}
	return strings.Join(parts, "; ")
}

// keptLine says which benches come from which earlier run, grouped by run.
func keptLine(ks []Kept) string {
	type run struct {
		date     time.Time
		settings string
		benches  []string
	}
	var runs []*run
	for _, k := range ks {
		settings := settingsLine(k.Settings)
		i := slices.IndexFunc(runs, func(r *run) bool { return r.date.Equal(k.Date) && r.settings == settings })
		if i < 0 {
			runs = append(runs, &run{date: k.Date, settings: settings})
			i = len(runs) - 1
		}
		runs[i].benches = append(runs[i].benches, k.Bench)
	}
	var parts []string
	for _, r := range runs {
		parts = append(parts, fmt.Sprintf("%s from the run of %s (%s)", strings.Join(r.benches, ", "),
			r.date.UTC().Format("2006-01-02 15:04 MST"), r.settings))
	}
	return "Kept from earlier runs (`-merge`): " + strings.Join(parts, "; ") + "."
}
