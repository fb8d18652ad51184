package history

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Workload describes concurrent Put/Get clients on a few keys.
type Workload struct {
	Keys      int           // keys under the prefix; default 3
	Clients   int           // concurrent clients; default 4
	OpTimeout time.Duration // per operation; default 1s
	Backoff   time.Duration // pause after a failed operation; default 50ms
	// Client, when set, is used instead of the recorder's client, for
	// example one pinned to a single member. Ops go to the same history.
	Client *clientv3.Client
}

func (w Workload) withDefaults() Workload {
	if w.Keys <= 0 {
		w.Keys = 3
	}
	if w.Clients <= 0 {
		w.Clients = 4
	}
	if w.OpTimeout <= 0 {
		w.OpTimeout = time.Second
	}
	if w.Backoff <= 0 {
		w.Backoff = 50 * time.Millisecond
	}
	return w
}

// Recorder runs workloads against etcd and records every operation with
// times from one shared monotonic clock.
type Recorder struct {
	client   *clientv3.Client
	prefix   string
	startRev int64
	start    time.Time

	mu      sync.Mutex
	ops     []Op
	clients int // client ids handed out
	seq     int // value sequence
}

// NewRecorder checks that prefix holds no keys and notes the current
// revision as the history's start.
func NewRecorder(ctx context.Context, c *clientv3.Client, prefix string) (*Recorder, error) {
	resp, err := c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return nil, fmt.Errorf("reading prefix %q before recording: %w", prefix, err)
	}
	if resp.Count != 0 {
		return nil, fmt.Errorf("prefix %q already holds %d keys; a history needs an empty prefix", prefix, resp.Count)
	}
	return &Recorder{client: c, prefix: prefix, startRev: resp.Header.Revision, start: time.Now()}, nil
}

// StartRevision is the store revision before the first recorded operation.
func (r *Recorder) StartRevision() int64 { return r.startRev }

// Prefix is the key prefix of the recorded keys.
func (r *Recorder) Prefix() string { return r.prefix }

// History returns a copy of everything recorded so far.
func (r *Recorder) History() History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return History{Prefix: r.prefix, StartRevision: r.startRev, Ops: append([]Op(nil), r.ops...)}
}

// Run runs the workload until ctx is done. Operations in flight when ctx
// ends finish under their own timeout.
func (r *Recorder) Run(ctx context.Context, w Workload) {
	w = w.withDefaults()
	c := w.Client
	if c == nil {
		c = r.client
	}
	r.mu.Lock()
	first := r.clients
	r.clients += w.Clients
	r.mu.Unlock()

	var wg sync.WaitGroup
	for id := first; id < first+w.Clients; id++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runClient(ctx, c, id, w)
		}()
	}
	wg.Wait()
}

func (r *Recorder) runClient(ctx context.Context, c *clientv3.Client, id int, w Workload) {
	rnd := rand.New(rand.NewPCG(uint64(id), uint64(r.start.UnixNano())))
	for ctx.Err() == nil {
		key := fmt.Sprintf("%sk%d", r.prefix, rnd.IntN(w.Keys))
		opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.OpTimeout)
		var ok bool
		if rnd.IntN(2) == 0 {
			ok = r.put(opCtx, c, id, key)
		} else {
			ok = r.get(opCtx, c, id, key)
		}
		cancel()
		if !ok {
			select {
			case <-ctx.Done():
			case <-time.After(w.Backoff):
			}
		}
	}
}

func (r *Recorder) now() time.Duration { return time.Since(r.start) }

func (r *Recorder) put(ctx context.Context, c *clientv3.Client, id int, key string) bool {
	r.mu.Lock()
	r.seq++
	value := fmt.Sprintf("c%d-%d", id, r.seq)
	r.mu.Unlock()

	op := Op{Client: id, Kind: Put, Key: key, Value: value, Call: r.now()}
	resp, err := c.Put(ctx, key, value)
	op.Return = r.now()
	if err != nil {
		op.Err = err.Error()
		op.Refused = refused(err)
	} else {
		op.Revision = resp.Header.Revision
	}
	r.record(op)
	return err == nil
}

// refused reports whether err is etcd's NOSPACE error (see Op.Refused:
// it does not prove the write was not applied).
func refused(err error) bool {
	return rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(rpctypes.ErrGRPCNoSpace)
}

func (r *Recorder) get(ctx context.Context, c *clientv3.Client, id int, key string) bool {
	op := Op{Client: id, Kind: Get, Key: key, Call: r.now()}
	resp, err := c.Get(ctx, key)
	op.Return = r.now()
	if err != nil {
		return false // a failed read tells nothing
	}
	op.Revision = resp.Header.Revision
	if len(resp.Kvs) > 0 {
		op.Found, op.Value = true, string(resp.Kvs[0].Value)
	}
	r.record(op)
	return true
}

func (r *Recorder) record(op Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}
