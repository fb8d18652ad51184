package history

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Stream is what a watcher received.
type Stream struct {
	From    int64   // first revision watched
	Through int64   // every event up to this revision was delivered
	Events  []Event // in delivery order
	// Restarts counts watches re-opened after the stream broke.
	Restarts int
}

// Watcher records the events of a prefix watch from a start revision,
// re-opening the watch after the last seen revision if it breaks.
type Watcher struct {
	client *clientv3.Client
	prefix string
	from   int64
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	wctx     context.Context // context of the open watch, for progress requests
	events   []Event
	through  int64
	restarts int
	err      error
}

// Watch starts recording events under prefix from revision from.
func Watch(ctx context.Context, c *clientv3.Client, prefix string, from int64) *Watcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{client: c, prefix: prefix, from: from, cancel: cancel, done: make(chan struct{}), through: from - 1}
	go w.run(ctx)
	return w
}

func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	next := w.from
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			w.mu.Lock()
			w.restarts++
			w.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		w.mu.Lock()
		w.wctx = wctx
		w.mu.Unlock()
		ch := w.client.Watch(wctx, w.prefix, clientv3.WithPrefix(), clientv3.WithRev(next), clientv3.WithProgressNotify())
		for resp := range ch {
			if err := resp.Err(); err != nil {
				if resp.CompactRevision != 0 {
					w.fail(fmt.Errorf("watch from revision %d compacted at %d: %w", next, resp.CompactRevision, err))
					cancel()
					return
				}
				break // re-open after the last seen revision
			}
			w.mu.Lock()
			if resp.IsProgressNotify() && resp.Header.Revision > w.through {
				w.through = resp.Header.Revision
			}
			for _, ev := range resp.Events {
				e := Event{Type: EventPut, Key: string(ev.Kv.Key), Value: string(ev.Kv.Value), Revision: ev.Kv.ModRevision}
				if ev.Type == mvccpb.DELETE {
					e.Type, e.Value = EventDelete, ""
				}
				w.events = append(w.events, e)
				next = max(next, e.Revision+1)
				w.through = max(w.through, e.Revision)
			}
			w.mu.Unlock()
		}
		cancel()
	}
}

func (w *Watcher) fail(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

// Wait waits until every event up to revision rev has been delivered,
// then stops the watch and returns the stream.
func (w *Watcher) Wait(ctx context.Context, rev int64) (Stream, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		w.mu.Lock()
		through, err, wctx := w.through, w.err, w.wctx
		w.mu.Unlock()
		switch {
		case err != nil:
			return w.Stop(), err
		case through >= rev:
			return w.Stop(), nil
		case wctx != nil:
			// Errors are fine here: the watch may be re-opening.
			_ = w.client.RequestProgress(wctx)
		}
		select {
		case <-ctx.Done():
			return w.Stop(), fmt.Errorf("watch delivered through revision %d, waiting for %d: %w", through, rev, ctx.Err())
		case <-w.done:
			s := w.Stop()
			w.mu.Lock()
			err := w.err
			w.mu.Unlock()
			if err == nil && s.Through < rev {
				err = fmt.Errorf("watch stopped at revision %d before reaching %d", s.Through, rev)
			}
			return s, err
		case <-tick.C:
		}
	}
}

// Stop ends the watch and returns what was received.
func (w *Watcher) Stop() Stream {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stream{From: w.from, Through: w.through, Events: append([]Event(nil), w.events...), Restarts: w.restarts}
}
