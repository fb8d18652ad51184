package history

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// verified is what verify found in one real round.
type verified struct {
	h      History
	res    Result
	final  FinalReads
	stream Stream
}

// verify runs every check on a finished round and fails t on any finding.
func verify(t *testing.T, c *cluster, cli *clientv3.Client, rec *Recorder, watchers ...*Watcher) verified {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := rec.History()
	viz := filepath.Join(t.TempDir(), "history.html")
	began := time.Now()
	res, err := Check(h, CheckOptions{VisualizationPath: viz, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Linearizable {
		t.Errorf("history of %d operations is not linearizable (visualization %s):\n%s", res.Operations, res.Visualization, res.Description)
	}
	t.Logf("checked %d operations in %v", res.Operations, time.Since(began).Round(time.Millisecond))
	f, err := ReadFinal(ctx, cli, h)
	if err != nil {
		t.Fatal(err)
	}
	if lost := LostAcknowledged(h, f); len(lost) > 0 {
		t.Errorf("%d acknowledged writes lost, first: %s", len(lost), lost[0])
	}
	var stream Stream
	var watchBad []string
	for i, w := range watchers {
		s, err := w.Wait(ctx, f.Revision)
		if err != nil {
			t.Fatalf("watcher %d: %v", i, err)
		}
		bad := CheckWatch(h, s)
		for _, b := range bad {
			t.Errorf("watcher %d: %s", i, b)
		}
		watchBad = append(watchBad, bad...)
		t.Logf("watcher %d: %d events through revision %d, %d restarts", i, len(s.Events), s.Through, s.Restarts)
		stream = s
	}
	rep, err := HashKVEqual(ctx, cli, c.endpoints())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Equal {
		t.Errorf("members disagree: %s", rep)
	}

	acked, gets := len(h.Acknowledged()), len(h.Ops)-len(h.Acknowledged())-len(h.MaybeApplied())
	if acked < 20 || gets < 20 {
		t.Errorf("too little traffic to mean anything: %d operations, %d acknowledged writes", res.Operations, acked)
	}
	sum := Summary{Scenario: t.Name()}
	sum.AddRound(res, watchBad, LostAcknowledged(h, f), MaxUnavailability(h))
	var table bytes.Buffer
	if err := PrintSummaries(&table, []Summary{sum}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged writes, %d maybe applied, %s\n%s", acked, len(h.MaybeApplied()), rep, table.String())
	return verified{h: h, res: res, final: f, stream: stream}
}

func TestSingleMemberHistory(t *testing.T) {
	c := startCluster(t, 1)
	cli := c.client()
	ctx := context.Background()
	rec, err := NewRecorder(ctx, cli, "/history/single/")
	if err != nil {
		t.Fatal(err)
	}
	w := Watch(ctx, cli, rec.Prefix(), rec.StartRevision()+1)
	run, stop := context.WithTimeout(ctx, time.Second)
	defer stop()
	rec.Run(run, Workload{})
	v := verify(t, c, cli, rec, w)

	// The checks must also fail on this real history once it is damaged.
	t.Run("damaged", func(t *testing.T) {
		h := v.h
		var first, second Op
		for _, o := range h.Ops {
			if o.Acknowledged() && first.Key == "" {
				first = o
			} else if o.Acknowledged() && o.Key == first.Key && o.Revision > first.Revision {
				second = o
			}
		}
		if second.Key == "" {
			t.Fatal("no key written twice")
		}
		last := h.Ops[len(h.Ops)-1].Return
		stale := Op{Client: 99, Kind: Get, Key: first.Key, Value: first.Value, Found: true, Call: last + time.Millisecond, Return: last + 2*time.Millisecond}
		bad := History{Prefix: h.Prefix, StartRevision: h.StartRevision, Ops: append(append([]Op{}, h.Ops...), stale)}
		viz := filepath.Join(t.TempDir(), "stale.html")
		res, err := Check(bad, CheckOptions{VisualizationPath: viz})
		if err != nil {
			t.Fatal(err)
		}
		if res.Linearizable || len(res.FailedKeys) != 1 || res.FailedKeys[0] != first.Key {
			t.Errorf("stale read of %q not reported: %+v", first.Value, res)
		}
		if st, err := os.Stat(viz); err != nil || st.Size() == 0 {
			t.Errorf("no visualization written: %v", err)
		}
		t.Logf("stale read reported as:\n%s", res.Description)

		s := v.stream
		var events []Event
		for _, e := range s.Events {
			if e.Value != second.Value {
				events = append(events, e)
			}
		}
		s.Events = events
		if len(CheckWatch(h, s)) == 0 {
			t.Errorf("watch stream without %s passed", second)
		}
		f := v.final
		f.Replay = events
		if lost := LostAcknowledged(h, f); len(lost) != 1 || lost[0].Value != second.Value {
			t.Errorf("replay without %s: lost %v", second, lost)
		}
	})
}

// A cluster in NOSPACE refuses every write: the recorder marks them
// refused (still maybe applied), the check leaves out those nobody read and
// still passes, and they count as unavailability.
func TestNoSpaceRefusesWrites(t *testing.T) {
	c := startClusterWithQuota(t, 1, 4<<20)
	cli := c.client()
	ctx := context.Background()
	rec, err := NewRecorder(ctx, cli, "/history/nospace/")
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 256<<10)
	for i := 0; ; i++ {
		if _, err := cli.Put(ctx, fmt.Sprintf("/fill/%d", i), big); err != nil {
			if !refused(err) {
				t.Fatalf("filling: %v", err)
			}
			break
		}
		if i > 1000 {
			t.Fatal("no NOSPACE after 250 MiB")
		}
	}
	run, stop := context.WithTimeout(ctx, 500*time.Millisecond)
	defer stop()
	rec.Run(run, Workload{})
	h := rec.History()
	var puts, refusedPuts int
	for _, o := range h.Ops {
		if o.Kind == Put {
			puts++
			if o.Refused && o.MaybeApplied() {
				refusedPuts++
			}
		}
	}
	if puts == 0 || refusedPuts != puts {
		t.Fatalf("%d of %d puts marked refused; want all", refusedPuts, puts)
	}
	res, err := Check(h, CheckOptions{Timeout: 10 * time.Second})
	if err != nil || !res.Linearizable || res.Operations != len(h.Ops)-puts {
		t.Fatalf("check of %d gets: %+v, %v", len(h.Ops)-puts, res, err)
	}
	if MaxUnavailability(h) < 400*time.Millisecond {
		t.Errorf("unavailability %v; refused writes for the whole run", MaxUnavailability(h))
	}
}

func TestThreeMembersWithCrashes(t *testing.T) {
	c := startCluster(t, 3)
	cli := c.client()
	ctx := context.Background()
	deadline, cancelDeadline := context.WithTimeout(ctx, 30*time.Second)
	defer cancelDeadline()
	victim := (c.waitLeader(deadline) + 1) % 3 // a follower
	pinned := c.client(victim)

	rec, err := NewRecorder(ctx, cli, "/history/three/")
	if err != nil {
		t.Fatal(err)
	}
	from := rec.StartRevision() + 1
	watchAll, watchVictim := Watch(ctx, cli, rec.Prefix(), from), Watch(ctx, pinned, rec.Prefix(), from)

	run, stopRun := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { rec.Run(run, Workload{Clients: 4, OpTimeout: 500 * time.Millisecond}); done <- struct{}{} }()
	go func() {
		rec.Run(run, Workload{Clients: 2, OpTimeout: 500 * time.Millisecond, Client: pinned})
		done <- struct{}{}
	}()

	time.Sleep(700 * time.Millisecond)
	t.Logf("crashing follower %d", victim)
	c.stop(victim)
	time.Sleep(time.Second)
	c.restart(victim)
	time.Sleep(700 * time.Millisecond)
	leader := c.waitLeader(deadline)
	t.Logf("crashing leader %d", leader)
	c.stop(leader)
	time.Sleep(time.Second)
	c.restart(leader)
	time.Sleep(700 * time.Millisecond)
	stopRun()
	<-done
	<-done

	v := verify(t, c, cli, rec, watchAll, watchVictim)
	if len(v.h.MaybeApplied()) == 0 {
		t.Error("crashes caused no failed writes; the maybe-applied path went untested")
	}
	if MaxUnavailability(v.h) == 0 {
		t.Error("no write unavailability measured across two crashes")
	}
}
