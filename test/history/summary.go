package history

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"
)

// MaxUnavailability is the longest time writes made no progress: the
// largest gap between consecutive acknowledged writes, or from a failed
// (or refused) write's call to the next acknowledged write (or to the last
// recorded return when none followed).
func MaxUnavailability(h History) time.Duration {
	var acked []time.Duration
	var end time.Duration
	for _, o := range h.Ops {
		end = max(end, o.Return)
		if o.Acknowledged() {
			acked = append(acked, o.Return)
		}
	}
	sort.Slice(acked, func(i, j int) bool { return acked[i] < acked[j] })
	var worst time.Duration
	for i := 1; i < len(acked); i++ {
		worst = max(worst, acked[i]-acked[i-1])
	}
	for _, o := range h.Ops {
		if !o.Failed() {
			continue
		}
		i := sort.Search(len(acked), func(i int) bool { return acked[i] > o.Call })
		if i < len(acked) {
			worst = max(worst, acked[i]-o.Call)
		} else {
			worst = max(worst, end-o.Call)
		}
	}
	return worst
}

// Summary is one scenario's outcome over its rounds.
type Summary struct {
	Scenario          string
	Rounds            int
	Operations        int           // operations checked
	Violations        int           // failed linearizability keys and watch violations
	LostWrites        int           // acknowledged writes lost
	MaxUnavailability time.Duration // worst over the rounds
}

// AddRound folds one round into s. A linearizability check that ran out
// of time counts as one violation: nothing was proven.
func (s *Summary) AddRound(res Result, watchViolations []string, lost []Op, unavailable time.Duration) {
	s.Rounds++
	s.Operations += res.Operations
	s.Violations += len(res.FailedKeys) + len(watchViolations)
	if !res.Linearizable && len(res.FailedKeys) == 0 {
		s.Violations++
	}
	s.LostWrites += len(lost)
	s.MaxUnavailability = max(s.MaxUnavailability, unavailable)
}

// PrintSummaries writes summaries as an aligned text table.
func PrintSummaries(w io.Writer, summaries []Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tROUNDS\tOPERATIONS\tVIOLATIONS\tLOST WRITES\tMAX WRITE UNAVAILABILITY")
	for _, s := range summaries {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%v\n", s.Scenario, s.Rounds, s.Operations, s.Violations, s.LostWrites, s.MaxUnavailability.Round(time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing summary table: %w", err)
	}
	return nil
}
