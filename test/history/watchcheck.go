package history

import "fmt"

// CheckWatch returns the ways s contradicts h: events out of order or
// duplicated, acknowledged writes missing from the stream (gaps), values
// no client wrote (phantoms), writes seen at the wrong revision or twice,
// and deletes, which the workload never issues. Nil means none.
func CheckWatch(h History, s Stream) []string {
	var bad []string
	report := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }

	written := map[string]Op{} // value -> put, acknowledged or not
	for _, o := range h.Ops {
		if o.Kind == Put {
			written[o.Value] = o
		}
	}

	type revKey struct {
		rev int64
		key string
	}
	seen := map[revKey]bool{}
	seenValue := map[string]Event{}
	lastByKey := map[string]int64{}
	var last int64
	for i, e := range s.Events {
		if e.Revision < last {
			report("event %d (%s) comes after revision %d", i, e, last)
		}
		last = max(last, e.Revision)
		if e.Revision < s.From {
			report("event %d (%s) is before the watch start revision %d", i, e, s.From)
		}
		rk := revKey{e.Revision, e.Key}
		if seen[rk] {
			report("event %d (%s) duplicates an earlier event for the same key and revision", i, e)
			continue
		}
		seen[rk] = true
		if prev, ok := lastByKey[e.Key]; ok && e.Revision <= prev {
			report("event %d (%s) does not follow the key's previous revision %d", i, e, prev)
		}
		lastByKey[e.Key] = max(lastByKey[e.Key], e.Revision)

		if e.Type == EventDelete {
			report("event %d (%s): no client deletes keys", i, e)
			continue
		}
		w, ok := written[e.Value]
		switch {
		case !ok || w.Key != e.Key:
			report("event %d (%s) carries a value no client wrote to that key", i, e)
			continue
		case w.Acknowledged() && w.Revision != e.Revision:
			report("event %d (%s) but the write was acknowledged at revision %d", i, e, w.Revision)
		}
		if first, dup := seenValue[e.Value]; dup {
			report("event %d (%s): value already seen as %s", i, e, first)
		}
		seenValue[e.Value] = e
	}

	for _, o := range h.Ops {
		if !o.Acknowledged() || o.Revision < s.From {
			continue
		}
		if o.Revision > s.Through {
			report("acknowledged write at revision %d is beyond the watched revision %d: %s", o.Revision, s.Through, o)
			continue
		}
		if e, ok := seenValue[o.Value]; !ok || e.Revision != o.Revision {
			report("acknowledged write missing from the watch stream: %s", o)
		}
	}
	return bad
}
