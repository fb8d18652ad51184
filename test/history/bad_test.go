package history

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

func put(client int, value string, call, ret int, rev int64) Op {
	return Op{Client: client, Kind: Put, Key: "k", Value: value, Call: time.Duration(call) * ms, Return: time.Duration(ret) * ms, Revision: rev}
}

func failedPut(client int, value string, call, ret int) Op {
	return Op{Client: client, Kind: Put, Key: "k", Value: value, Call: time.Duration(call) * ms, Return: time.Duration(ret) * ms, Err: "context deadline exceeded"}
}

// refusedPut failed with NOSPACE; it may still have been applied.
func refusedPut(client int, value string, call, ret int) Op {
	o := failedPut(client, value, call, ret)
	o.Err, o.Refused = "etcdserver: mvcc: database space exceeded", true
	return o
}

func get(client int, value string, call, ret int) Op {
	return Op{Client: client, Kind: Get, Key: "k", Value: value, Found: value != "", Call: time.Duration(call) * ms, Return: time.Duration(ret) * ms}
}

func check(t *testing.T, ops ...Op) Result {
	t.Helper()
	res, err := Check(History{Ops: ops}, CheckOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCheckLinearizableHistories(t *testing.T) {
	// unread is 300 concurrent failed writes nobody read, around one read.
	unread := []Op{put(0, "a", 0, 10, 2)}
	for i := range 300 {
		unread = append(unread, refusedPut(1+i, fmt.Sprintf("r%d", i), 20+i, 1000))
	}
	unread = append(unread, get(0, "a", 1100, 1200))
	cases := map[string]struct {
		ops []Op
		n   int // operations the check keeps
	}{
		"sequential":                  {[]Op{put(0, "a", 0, 10, 2), get(1, "a", 20, 30), put(1, "b", 40, 50, 3), get(0, "b", 60, 70)}, 4},
		"concurrent read sees either": {[]Op{put(0, "a", 0, 10, 2), put(0, "b", 20, 50, 3), get(1, "a", 25, 30), get(2, "b", 30, 40)}, 4},
		"read before any write":       {[]Op{get(0, "", 0, 5), put(1, "a", 10, 20, 2)}, 2},
		"failed write applied later":  {[]Op{failedPut(0, "a", 0, 10), get(1, "", 20, 30), get(1, "a", 40, 50)}, 3},
		// Unread, the failed write is left out of the check.
		"failed write never applied": {[]Op{put(0, "a", 0, 10, 2), failedPut(1, "b", 20, 30), get(0, "a", 40, 50)}, 2},
		// The write that crosses the quota is applied and still refused
		// with NOSPACE (etcd's quotaApplierV3): CI saw it read.
		"refused write applied and read": {[]Op{put(0, "a", 0, 10, 2), refusedPut(1, "b", 20, 30), get(0, "b", 40, 50)}, 3},
		"unread failed writes left out":  {unread, 2},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if res := check(t, c.ops...); !res.Linearizable || res.Operations != c.n {
				t.Errorf("want linearizable with %d operations, got %+v", c.n, res)
			}
		})
	}
}

func TestCheckReportsViolations(t *testing.T) {
	cases := map[string][]Op{
		"stale read":                   {put(0, "a", 0, 10, 2), put(0, "b", 20, 30, 3), get(1, "a", 40, 50)},
		"acknowledged write read lost": {put(0, "a", 0, 10, 2), get(1, "", 20, 30)},
		"read of unwritten value":      {put(0, "a", 0, 10, 2), get(1, "x", 20, 30)},
		"failed write read too early":  {get(1, "a", 0, 5), failedPut(0, "a", 10, 20)},
		"value flips back":             {put(0, "a", 0, 10, 2), failedPut(2, "b", 12, 15), get(1, "b", 20, 30), get(1, "a", 40, 50)},
		"refused write read too early": {get(1, "b", 0, 5), refusedPut(0, "b", 10, 20)},
	}
	for name, ops := range cases {
		t.Run(name, func(t *testing.T) {
			viz := filepath.Join(t.TempDir(), "viz.html")
			res, err := Check(History{Ops: ops}, CheckOptions{VisualizationPath: viz})
			if err != nil {
				t.Fatal(err)
			}
			if res.Linearizable || res.TimedOut || len(res.FailedKeys) != 1 || res.FailedKeys[0] != "k" {
				t.Fatalf("violation not reported: %+v", res)
			}
			if !strings.Contains(res.Description, "key k:") || !strings.Contains(res.Description, "cannot place") {
				t.Errorf("description does not explain: %q", res.Description)
			}
			html, err := os.ReadFile(res.Visualization)
			if err != nil || !strings.Contains(string(html), "<html") {
				t.Errorf("visualization not written to %s: %v", viz, err)
			}
		})
	}
}

func TestLostAcknowledged(t *testing.T) {
	h := History{Ops: []Op{put(0, "a", 0, 10, 5), put(0, "b", 20, 30, 6), failedPut(1, "c", 40, 50)}}
	ev := func(v string, rev int64) Event { return Event{Type: EventPut, Key: "k", Value: v, Revision: rev} }
	cases := []struct {
		name string
		f    FinalReads
		lost []string
	}{
		{"all present", FinalReads{Revision: 6, Latest: map[string]Event{"k": ev("b", 6)}, Replay: []Event{ev("a", 5), ev("b", 6)}}, nil},
		{"all present, no replay", FinalReads{Revision: 6, Latest: map[string]Event{"k": ev("b", 6)}}, nil},
		{"failed write applied", FinalReads{Revision: 7, Latest: map[string]Event{"k": ev("c", 7)}, Replay: []Event{ev("a", 5), ev("b", 6), ev("c", 7)}}, nil},
		{"missing from replay", FinalReads{Revision: 6, Latest: map[string]Event{"k": ev("b", 6)}, Replay: []Event{ev("b", 6)}}, []string{"a"}},
		{"latest value older", FinalReads{Revision: 6, Latest: map[string]Event{"k": ev("a", 5)}}, []string{"b"}},
		{"key gone", FinalReads{Revision: 6, Latest: map[string]Event{}}, []string{"a", "b"}},
		{"revision went back", FinalReads{Revision: 5, Latest: map[string]Event{"k": ev("a", 5)}}, []string{"b"}},
		{"other value at the revision", FinalReads{Revision: 6, Latest: map[string]Event{"k": ev("x", 6)}}, []string{"b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, o := range LostAcknowledged(h, c.f) {
				got = append(got, o.Value)
			}
			if strings.Join(got, ",") != strings.Join(c.lost, ",") {
				t.Errorf("lost %v, want %v", got, c.lost)
			}
		})
	}
}

func TestCheckWatch(t *testing.T) {
	h := History{Ops: []Op{put(0, "a", 0, 10, 5), put(1, "b", 20, 30, 6), failedPut(1, "c", 40, 50), put(0, "d", 60, 70, 8)}}
	ev := func(v string, rev int64) Event { return Event{Type: EventPut, Key: "k", Value: v, Revision: rev} }
	good := []Event{ev("a", 5), ev("b", 6), ev("c", 7), ev("d", 8)}
	cases := []struct {
		name   string
		events []Event
		want   string // substring of a violation; "" for none
	}{
		{"complete", good, ""},
		{"failed write not applied", []Event{ev("a", 5), ev("b", 6), ev("d", 8)}, ""},
		{"gap", []Event{ev("a", 5), ev("c", 7), ev("d", 8)}, "missing from the watch stream"},
		{"duplicate", []Event{ev("a", 5), ev("b", 6), ev("b", 6), ev("c", 7), ev("d", 8)}, "duplicates"},
		{"phantom", []Event{ev("a", 5), ev("b", 6), ev("zzz", 7), ev("d", 8)}, "no client wrote"},
		{"out of order", []Event{ev("a", 5), ev("c", 7), ev("b", 6), ev("d", 8)}, "comes after revision 7"},
		{"wrong revision", []Event{ev("a", 5), ev("b", 7), ev("d", 8)}, "acknowledged at revision 6"},
		{"replayed value", []Event{ev("a", 5), ev("b", 6), ev("a", 7), ev("d", 8)}, "already seen"},
		{"delete", []Event{ev("a", 5), ev("b", 6), {Type: EventDelete, Key: "k", Revision: 7}, ev("d", 8)}, "no client deletes"},
		{"before start", append([]Event{ev("a", 3)}, good...), "before the watch start"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := CheckWatch(h, Stream{From: 4, Through: 8, Events: c.events})
			joined := strings.Join(bad, "\n")
			if c.want == "" && len(bad) > 0 || c.want != "" && !strings.Contains(joined, c.want) {
				t.Errorf("violations %q, want one containing %q", joined, c.want)
			}
		})
	}
	if bad := CheckWatch(h, Stream{From: 4, Through: 6, Events: good[:2]}); len(bad) == 0 {
		t.Error("a stream that stopped before the last acknowledged write passed")
	}
}
