package bench

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// ok is a put started at start ms that returned after lat ms.
func ok(start, lat int) writeOp { return writeOp{Start: at(start), End: at(start + lat)} }

func bad(start, lat int) writeOp {
	return writeOp{Start: at(start), End: at(start + lat), Err: errors.New("boom")}
}

func TestMaxGap(t *testing.T) {
	steady := []writeOp{ok(0, 1), ok(10, 1), ok(20, 1), ok(30, 1), ok(40, 1)}
	for _, tc := range []struct {
		name     string
		ops      []writeOp
		from, to int
		want     time.Duration
	}{
		{"steady", steady, 5, 35, 10 * time.Millisecond},
		{"outage inside", []writeOp{ok(0, 1), ok(10, 1), bad(20, 5), ok(30, 500), ok(40, 495)}, 5, 600,
			(530 - 11) * time.Millisecond},
		// acks complete out of order: sorting by completion.
		{"out of order", []writeOp{ok(0, 100), ok(10, 1), ok(20, 1)}, 0, 200, 100 * time.Millisecond},
		// the gap starts before the window and ends inside: counted whole.
		{"straddles from", []writeOp{ok(0, 1), ok(1000, 1), ok(1010, 1)}, 500, 1200, 1000 * time.Millisecond},
		// a gap entirely before the window does not count.
		{"before window", []writeOp{ok(0, 1), ok(1000, 1), ok(1010, 1), ok(1020, 1)}, 1005, 1015, 10 * time.Millisecond},
		// a gap entirely after the window does not count.
		{"after window", []writeOp{ok(0, 1), ok(10, 1), ok(1010, 1)}, 0, 5, 10 * time.Millisecond},
		// no acknowledgement after the last one until the end.
		{"still failing at the end", []writeOp{ok(0, 1), ok(10, 1), bad(20, 5000)}, 0, 3000, (3000 - 11) * time.Millisecond},
		{"none acknowledged", []writeOp{bad(0, 5000)}, 100, 400, 300 * time.Millisecond},
		{"no acknowledgement before the window", []writeOp{ok(300, 1)}, 100, 400, 201 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := maxGap(tc.ops, at(tc.from), at(tc.to)); got != tc.want {
				t.Errorf("maxGap = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWindowCounts(t *testing.T) {
	ops := []writeOp{ok(0, 1), bad(10, 5000), ok(20, 30), bad(30, 1), ok(40, 5)}
	if got := failedIn(ops, at(10), at(30)); got != 1 {
		t.Errorf("failedIn [10,30) = %d, want 1", got)
	}
	if got := failedIn(ops, at(0), at(100)); got != 2 {
		t.Errorf("failedIn [0,100) = %d, want 2", got)
	}
	lat := latenciesIn(ops, at(10), at(41))
	if len(lat) != 2 || lat[0] != 30*time.Millisecond || lat[1] != 5*time.Millisecond {
		t.Errorf("latenciesIn = %v, want [30ms 5ms]", lat)
	}
	if err := firstErrIn(ops, at(20), at(100)); err == nil {
		t.Error("firstErrIn found no error")
	}
	if err := firstErrIn(ops, at(40), at(100)); err != nil {
		t.Errorf("firstErrIn = %v, want none", err)
	}
}
