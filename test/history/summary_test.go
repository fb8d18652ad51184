package history

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

func TestMaxUnavailability(t *testing.T) {
	cases := []struct {
		name string
		ops  []Op
		want time.Duration
	}{
		{"steady", []Op{put(0, "a", 0, 10, 2), put(0, "b", 10, 20, 3), put(0, "c", 20, 35, 4)}, 15 * ms},
		{"gap between successes", []Op{put(0, "a", 0, 10, 2), failedPut(0, "b", 10, 510), put(0, "c", 520, 600, 3)}, 590 * ms},
		{"failure run before the first success", []Op{failedPut(1, "b", 5, 300), put(0, "c", 310, 320, 3), put(0, "d", 330, 340, 4)}, 315 * ms},
		{"failures between successes", []Op{put(0, "a", 0, 10, 2), failedPut(1, "b", 5, 300), put(0, "c", 20, 30, 3), put(0, "d", 400, 410, 4)}, 380 * ms},
		{"no success after failures", []Op{put(0, "a", 0, 10, 2), failedPut(1, "b", 100, 600), get(0, "a", 650, 700)}, 600 * ms},
		{"refused writes count", []Op{put(0, "a", 0, 10, 2), refusedPut(1, "b", 100, 600), get(0, "a", 650, 700)}, 600 * ms},
		{"reads do not count", []Op{get(0, "", 0, 1000)}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := MaxUnavailability(History{Ops: c.ops}); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{rpctypes.ErrNoSpace, true},
		{rpctypes.ErrGRPCNoSpace, true},
		{rpctypes.ErrTimeout, false},
		{context.DeadlineExceeded, false},
		{errors.New("database space exceeded somewhere"), false},
	} {
		if got := refused(c.err); got != c.want {
			t.Errorf("refused(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestSummaries(t *testing.T) {
	s := Summary{Scenario: "leader-kill"}
	s.AddRound(Result{Operations: 100, Linearizable: true}, nil, nil, 2*time.Second)
	s.AddRound(Result{Operations: 50, FailedKeys: []string{"k"}}, []string{"gap"}, []Op{{}}, time.Second)
	s.AddRound(Result{Operations: 10, TimedOut: true}, nil, nil, 0)
	want := Summary{Scenario: "leader-kill", Rounds: 3, Operations: 160, Violations: 3, LostWrites: 1, MaxUnavailability: 2 * time.Second}
	if s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}

	var b bytes.Buffer
	if err := PrintSummaries(&b, []Summary{s, {Scenario: "x", Rounds: 12345, MaxUnavailability: 1500 * time.Microsecond}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want header and two rows:\n%s", b.String())
	}
	col := strings.Index(lines[0], "ROUNDS")
	for _, l := range lines[1:] {
		if col <= 0 || len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("column ROUNDS not aligned at %d:\n%s", col, b.String())
		}
	}
	if !strings.Contains(lines[1], "2s") || !strings.Contains(lines[2], "2ms") {
		t.Errorf("durations not printed:\n%s", b.String())
	}
}
