package history

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// FinalReads is the state of a history's keys read back after the workload.
type FinalReads struct {
	Revision int64            // store revision of the read
	Latest   map[string]Event // each key's current value and mod revision
	// Replay is the prefix's full change history from the history's start
	// revision through Revision, read with a fresh watch; nil if not read
	// (the history was compacted).
	Replay []Event
}

// ReadFinal reads the current values under h's prefix, then replays every
// change since h.StartRevision with a new watch. Call it after the
// workload has stopped.
func ReadFinal(ctx context.Context, c *clientv3.Client, h History) (FinalReads, error) {
	resp, err := c.Get(ctx, h.Prefix, clientv3.WithPrefix())
	if err != nil {
		return FinalReads{}, fmt.Errorf("reading final values under %q: %w", h.Prefix, err)
	}
	f := FinalReads{Revision: resp.Header.Revision, Latest: map[string]Event{}}
	for _, kv := range resp.Kvs {
		f.Latest[string(kv.Key)] = Event{Type: EventPut, Key: string(kv.Key), Value: string(kv.Value), Revision: kv.ModRevision}
	}
	s, err := Watch(ctx, c, h.Prefix, h.StartRevision+1).Wait(ctx, f.Revision)
	if errors.Is(err, rpctypes.ErrCompacted) || (err != nil && strings.Contains(err.Error(), rpctypes.ErrCompacted.Error())) {
		// The fault compacted the history (NOSPACE recovery and
		// defragmentation compact by design): the replay cannot be read.
		// Replay stays nil, so LostAcknowledged checks the final values
		// only; the watch the caller opened before the fault still carries
		// every change to CheckWatch.
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("replaying changes under %q from revision %d: %w", h.Prefix, h.StartRevision+1, err)
	}
	f.Replay = append([]Event{}, s.Events...) // non-nil: the replay was read
	return f, nil
}

// LostAcknowledged returns the acknowledged writes that the final reads
// prove missing: written after the final revision, newer than the key's
// current value, or absent from the replayed change history.
func LostAcknowledged(h History, f FinalReads) []Op {
	replayed := map[string]Event{} // value -> event
	for _, e := range f.Replay {
		if e.Type == EventPut {
			replayed[e.Value] = e
		}
	}
	var lost []Op
	for _, o := range h.Ops {
		if !o.Acknowledged() {
			continue
		}
		latest, ok := f.Latest[o.Key]
		switch {
		case o.Revision > f.Revision:
			lost = append(lost, o)
		case !ok || latest.Revision < o.Revision:
			lost = append(lost, o)
		case latest.Revision == o.Revision && latest.Value != o.Value:
			lost = append(lost, o)
		case f.Replay != nil && !sameWrite(replayed[o.Value], o):
			lost = append(lost, o)
		}
	}
	return lost
}

func sameWrite(e Event, o Op) bool {
	return e.Key == o.Key && e.Value == o.Value && e.Revision == o.Revision
}
