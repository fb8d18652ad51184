package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// writeOp is one put of a writer.
type writeOp struct {
	Start, End time.Time
	Err        error
}

// writer puts small values at a fixed rate, open loop: a put starts every
// 1/rate whether or not the earlier ones have returned, as independent
// clients of an application would, so a stalled put does not hide the
// ones behind it.
type writer struct {
	mu     sync.Mutex
	ops    []writeOp
	cancel context.CancelFunc
	done   chan struct{}
}

// writerOpTimeout bounds one put.
const writerOpTimeout = 5 * time.Second

// maxInFlight bounds the puts waiting at once; a tick finding that many is
// recorded as a failure without a request.
const maxInFlight = 1000

var errTooManyInFlight = fmt.Errorf("more than %d puts in flight", maxInFlight)

func startWriter(ctx context.Context, c *clientv3.Client, rate float64, prefix string) *writer {
	ctx, cancel := context.WithCancel(ctx)
	w := &writer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		sem := make(chan struct{}, maxInFlight)
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			select {
			case sem <- struct{}{}:
			default:
				now := time.Now()
				w.record(writeOp{now, now, errTooManyInFlight})
				continue
			}
			key := fmt.Sprintf("%s%08d", prefix, i)
			wg.Go(func() {
				defer func() { <-sem }()
				// The put outlives a stop: a stop does not count as a failure.
				octx, ocancel := context.WithTimeout(context.WithoutCancel(ctx), writerOpTimeout)
				defer ocancel()
				start := time.Now()
				_, err := c.Put(octx, key, key)
				w.record(writeOp{start, time.Now(), err})
			})
		}
	}()
	return w
}

func (w *writer) record(op writeOp) {
	w.mu.Lock()
	w.ops = append(w.ops, op)
	w.mu.Unlock()
}

// stop stops the writer, waits for the puts in flight and returns every
// put in order of start.
func (w *writer) stop() []writeOp {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	ops := slices.Clone(w.ops)
	slices.SortFunc(ops, func(a, b writeOp) int { return a.Start.Compare(b.Start) })
	return ops
}

// maxGap is the longest time without an acknowledged write that overlaps
// [from, to]: between two successive acknowledgements, from `from` to the
// first one when none came before, or from the last one to `to` when none
// came after (the writer stopped while writes were still failing). A gap
// straddling from or to counts whole: it belongs to the event.
func maxGap(ops []writeOp, from, to time.Time) time.Duration {
	var acks []time.Time
	for _, op := range ops {
		if op.Err == nil {
			acks = append(acks, op.End)
		}
	}
	slices.SortFunc(acks, time.Time.Compare)
	prev := time.Time{}
	var longest time.Duration
	for _, a := range acks {
		start := prev
		if start.IsZero() {
			start = from
		}
		if a.After(from) && !start.After(to) {
			longest = max(longest, a.Sub(start))
		}
		prev = a
	}
	switch {
	case prev.IsZero():
		longest = to.Sub(from)
	case prev.Before(to):
		longest = max(longest, to.Sub(prev))
	}
	return longest
}

// failedIn counts the puts started in [from, to) that failed.
func failedIn(ops []writeOp, from, to time.Time) int {
	n := 0
	for _, op := range ops {
		if op.Err != nil && !op.Start.Before(from) && op.Start.Before(to) {
			n++
		}
	}
	return n
}

// latenciesIn are the latencies of the successful puts started in
// [from, to).
func latenciesIn(ops []writeOp, from, to time.Time) []time.Duration {
	var out []time.Duration
	for _, op := range ops {
		if op.Err == nil && !op.Start.Before(from) && op.Start.Before(to) {
			out = append(out, op.End.Sub(op.Start))
		}
	}
	return out
}

// firstErrIn is the first failure started in [from, to), for the log.
func firstErrIn(ops []writeOp, from, to time.Time) error {
	for _, op := range ops {
		if op.Err != nil && !op.Start.Before(from) && op.Start.Before(to) {
			return op.Err
		}
	}
	return nil
}

// writerRate is the rate of the writers of the availability benches.
const writerRate = 100

// gapValues are the writer figures of one event in [from, to].
func gapValues(env Env, prefix string, ops []writeOp, from, to time.Time) []Value {
	gap, failed := maxGap(ops, from, to), failedIn(ops, from, to)
	env.Logf("%s: largest write gap %s, %d failed puts (first error: %v)", prefix, gap.Round(time.Millisecond), failed, firstErrIn(ops, from, to))
	return []Value{
		{prefix + ": largest write gap", "s", seconds(gap)},
		{prefix + ": failed puts", "count", float64(failed)},
	}
}
