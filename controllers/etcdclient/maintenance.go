package etcdclient

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Timeouts of the maintenance calls, longer than RequestTimeout.
const (
	// CompactTimeout bounds a compaction. With physical=true the call
	// returns only once the backend has dropped the old revisions, which on
	// a large database takes seconds.
	CompactTimeout = time.Minute
	// DefragmentTimeout bounds a defragmentation. Defragmenting rewrites
	// the member's whole backend file; meanwhile the member answers no
	// reads or writes (etcd op-guide/maintenance). etcd's own etcdctl
	// allows a bounded command timeout too; a few GiB take minutes on a
	// slow disk.
	DefragmentTimeout = 10 * time.Minute
	// HashKVTimeout bounds a HashKV: the member reads every key version
	// from its last compaction up to the revision asked for.
	HashKVTimeout = 2 * time.Minute
)

// HashKV is one member's hash of its key-value store (etcd's HashKV,
// what `etcdctl endpoint hashkv` shows): two members agree when they
// report the same Hash for the same Revision and CompactRevision.
type HashKV struct {
	MemberID        uint64
	Hash            uint32
	Revision        int64 // the revision hashed up to
	CompactRevision int64 // the member's compacted revision
}

// HashKV asks the member at endpoint for the hash of its key-value store
// up to revision (0: its current revision). It works while CORRUPT or
// NOSPACE is raised; a revision already compacted is an error.
func (c *client) HashKV(ctx context.Context, endpoint string, revision int64) (HashKV, error) {
	ctx, cancel := context.WithTimeout(ctx, HashKVTimeout)
	defer cancel()
	resp, err := c.c.HashKV(ctx, endpoint, revision)
	if err != nil {
		return HashKV{}, fmt.Errorf("hashing the key-value store of %s at revision %d: %w", endpoint, revision, err)
	}
	rev := revision
	if resp.HashRevision != 0 {
		rev = resp.HashRevision
	}
	return HashKV{MemberID: resp.Header.GetMemberId(), Hash: resp.Hash, Revision: rev, CompactRevision: resp.CompactRevision}, nil
}

// AlarmType is an etcd alarm, named as etcd names it (pb.AlarmType).
type AlarmType string

// The alarms etcd raises (api/etcdserverpb AlarmType).
const (
	// AlarmNoSpace: a member's backend reached its quota
	// (--quota-backend-bytes). The whole cluster then accepts only reads,
	// deletes and compactions, until the alarm is disarmed
	// (op-guide/maintenance "Space quota").
	AlarmNoSpace AlarmType = "NOSPACE"
	// AlarmCorrupt: a consistency check found members whose data differ
	// (op-guide/data_corruption). Every member then refuses writes, and
	// /readyz fails on every member.
	AlarmCorrupt AlarmType = "CORRUPT"
)

// Alarm is one active alarm: etcd keeps one cluster-wide list of
// (member ID, alarm type) pairs, replicated through raft.
type Alarm struct {
	MemberID uint64
	Type     AlarmType
}

func (a Alarm) String() string { return fmt.Sprintf("%s on member %x", a.Type, a.MemberID) }

func toAlarms(ms []*pb.AlarmMember) []Alarm {
	out := make([]Alarm, 0, len(ms))
	for _, m := range ms {
		out = append(out, Alarm{MemberID: m.MemberID, Type: AlarmType(m.Alarm.String())})
	}
	return out
}

// alarmText matches one alarm in StatusResponse.Errors. etcd writes there
// AlarmMember.String(): "memberID:<decimal> alarm:<TYPE>" (gogo protobuf
// up to v3.5, protobuf text format later, which may double the spaces).
var alarmText = regexp.MustCompile(`^\s*memberID:\s*(\d+)\s+alarm:\s*([A-Z_]+)\s*$`)

// splitStatusErrors separates the alarms in StatusResponse.Errors from the
// real errors (today only "etcdserver: no leader"). etcd v3.7.3
// (server/etcdserver/api/v3rpc/maintenance.go, Status) appends every
// alarm of the cluster-wide list to Errors, on every member: read as
// errors, one NOSPACE alarm made every member look unhealthy.
func splitStatusErrors(errs []string) (alarms []Alarm, rest []string) {
	for _, e := range errs {
		m := alarmText.FindStringSubmatch(e)
		if m == nil {
			rest = append(rest, e)
			continue
		}
		id, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil {
			rest = append(rest, e)
			continue
		}
		alarms = append(alarms, Alarm{MemberID: id, Type: AlarmType(m[2])})
	}
	return alarms, rest
}

// Alarms lists every active alarm of the cluster. etcd serves the list
// through raft (server/etcdserver/v3_server.go, Alarm), so it needs a
// leader; it works while NOSPACE or CORRUPT is raised. With authentication
// on, it needs the root role.
func (c *client) Alarms(ctx context.Context) ([]Alarm, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	resp, err := c.c.AlarmList(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing alarms: %w", err)
	}
	return toAlarms(resp.Alarms), nil
}

// DisarmAlarm clears the alarm t of member memberID, or with memberID 0
// the alarm t of every member. Disarming an alarm that is not raised is
// not an error. For NOSPACE, etcd lets writes through again only once no
// member has it left; a member whose backend file is still at its quota
// raises it again on the next write (storage/quota.go compares the file
// size, not the size in use), so defragment before disarming
// (op-guide/maintenance).
func (c *client) DisarmAlarm(ctx context.Context, memberID uint64, t AlarmType) error {
	v, ok := pb.AlarmType_value[string(t)]
	if !ok || t == "NONE" {
		return fmt.Errorf("disarming alarm: unknown alarm type %q", t)
	}
	targets := []Alarm{{MemberID: memberID, Type: t}}
	if memberID == 0 {
		all, err := c.Alarms(ctx)
		if err != nil {
			return err
		}
		targets = targets[:0]
		for _, a := range all {
			if a.Type == t {
				targets = append(targets, a)
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	for _, a := range targets {
		if _, err := c.c.AlarmDisarm(ctx, &clientv3.AlarmMember{MemberID: a.MemberID, Alarm: pb.AlarmType(v)}); err != nil {
			return fmt.Errorf("disarming %s: %w", a, err)
		}
	}
	return nil
}

// Compact drops every key version older than revision (etcd
// op-guide/maintenance "History compaction"). With physical, the call
// returns only once the backend has freed them, so that a
// defragmentation right after it returns their space. A revision already
// compacted is not an error (compaction is done); a revision beyond the
// current one (Status.Revision) is.
func (c *client) Compact(ctx context.Context, revision int64, physical bool) error {
	ctx, cancel := context.WithTimeout(ctx, CompactTimeout)
	defer cancel()
	var opts []clientv3.CompactOption
	if physical {
		opts = append(opts, clientv3.WithCompactPhysical())
	}
	if _, err := c.c.Compact(ctx, revision, opts...); err != nil {
		if errors.Is(err, rpctypes.ErrCompacted) {
			return nil
		}
		return fmt.Errorf("compacting to revision %d: %w", revision, err)
	}
	return nil
}

// Defragment rewrites the backend of the member at endpoint, returning
// its free pages to the file system. The member answers nothing until it
// ends (bounded by DefragmentTimeout): defragment one member at a time,
// never a majority at once (op-guide/maintenance "Defragmentation").
func (c *client) Defragment(ctx context.Context, endpoint string) error {
	ctx, cancel := context.WithTimeout(ctx, DefragmentTimeout)
	defer cancel()
	if _, err := c.c.Defragment(ctx, endpoint); err != nil {
		return fmt.Errorf("defragmenting %s: %w", endpoint, err)
	}
	return nil
}
