// Package history records client operations against etcd and checks them:
// linearizability with porcupine, watch stream ordering and completeness,
// lost acknowledged writes, member hash agreement and write unavailability.
package history

import (
	"fmt"
	"time"
)

// Kind is the kind of a recorded operation.
type Kind string

// Operation kinds.
const (
	Put Kind = "put"
	Get Kind = "get"
)

// Op is one recorded client operation. Call and Return are offsets on the
// recorder's monotonic clock.
type Op struct {
	Client int  // zero-based client id
	Kind   Kind // Put or Get
	Key    string
	// Value is the value written (Put) or read (Get; "" when not Found).
	Value  string
	Found  bool // Get only: the key existed
	Call   time.Duration
	Return time.Duration
	// Revision is the response header revision: for an acknowledged Put
	// the revision that write created; 0 when unknown.
	Revision int64
	// Err is the error of a failed Put. A failed Put may or may not have
	// been applied. Failed Gets are not recorded.
	Err string
	// Refused: the Put failed with NOSPACE. etcd refuses most such writes
	// before proposing them, but not all: the write whose apply crosses
	// the quota is applied and still answered with NOSPACE (etcd
	// server/etcdserver/apply/quota.go, quotaApplierV3.Put), and the
	// client cannot tell which case it got. A refused Put is therefore
	// maybe applied like any failed Put; Refused only names the cause in
	// reports.
	Refused bool
}

// Acknowledged reports whether o is a Put the cluster confirmed.
func (o Op) Acknowledged() bool { return o.Kind == Put && o.Err == "" }

// Failed reports whether o is a Put that failed, refused or not.
func (o Op) Failed() bool { return o.Kind == Put && o.Err != "" }

// MaybeApplied reports whether o is a Put that failed and so may have
// applied; every failed Put may have (see Op.Refused).
func (o Op) MaybeApplied() bool { return o.Failed() }

// String describes o on one line.
func (o Op) String() string {
	t := fmt.Sprintf("[%v, %v]", o.Call.Round(time.Microsecond), o.Return.Round(time.Microsecond))
	switch {
	case o.Kind == Get && !o.Found:
		return fmt.Sprintf("client %d get %s -> none (rev %d) %s", o.Client, o.Key, o.Revision, t)
	case o.Kind == Get:
		return fmt.Sprintf("client %d get %s -> %q (rev %d) %s", o.Client, o.Key, o.Value, o.Revision, t)
	case o.Refused:
		return fmt.Sprintf("client %d put %s=%q refused (%s) %s", o.Client, o.Key, o.Value, o.Err, t)
	case o.Err != "":
		return fmt.Sprintf("client %d put %s=%q failed (%s) %s", o.Client, o.Key, o.Value, o.Err, t)
	default:
		return fmt.Sprintf("client %d put %s=%q ok (rev %d) %s", o.Client, o.Key, o.Value, o.Revision, t)
	}
}

// History is what a recorder saw. All keys live under Prefix, which was
// empty at StartRevision.
type History struct {
	Prefix        string
	StartRevision int64
	Ops           []Op
}

// Acknowledged returns the acknowledged writes.
func (h History) Acknowledged() []Op {
	var out []Op
	for _, o := range h.Ops {
		if o.Acknowledged() {
			out = append(out, o)
		}
	}
	return out
}

// MaybeApplied returns the failed writes.
func (h History) MaybeApplied() []Op {
	var out []Op
	for _, o := range h.Ops {
		if o.MaybeApplied() {
			out = append(out, o)
		}
	}
	return out
}

// EventType is the type of a watch event.
type EventType string

// Watch event types.
const (
	EventPut    EventType = "PUT"
	EventDelete EventType = "DELETE"
)

// Event is one watch event or one key's latest value.
type Event struct {
	Type     EventType
	Key      string
	Value    string
	Revision int64 // mod revision
}

func (e Event) String() string {
	return fmt.Sprintf("%s %s=%q at rev %d", e.Type, e.Key, e.Value, e.Revision)
}
