package etcdclient

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

const testQuota = 16 << 20 // 16 MiB

// TestNoSpaceRecovery fills a small quota until etcd raises NOSPACE, then
// follows etcd's documented recovery (op-guide/maintenance): delete,
// compact, defragment, disarm.
func TestNoSpaceRecovery(t *testing.T) {
	t.Parallel()
	ep, _ := startEtcdWith(t, "full", func(cfg *embed.Config) { cfg.QuotaBackendBytes = testQuota })
	c, err := New(Config{Endpoints: []string{ep}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx := context.Background()

	// Overwrite one key with 512 KiB values: without compaction every
	// version stays in the backend, until the quota is reached.
	value := strings.Repeat("x", 512<<10)
	var putErr error
	for i := 0; i < 200 && putErr == nil; i++ {
		_, putErr = raw.Put(ctx, "big", value)
	}
	if !errors.Is(putErr, rpctypes.ErrNoSpace) {
		t.Fatalf("filling the quota ended with %v, want %v", putErr, rpctypes.ErrNoSpace)
	}

	// The member still answers its status: up, with the alarm listed.
	full, err := c.Status(ctx, ep)
	if err != nil {
		t.Fatalf("status of a member with NOSPACE: %v", err)
	}
	if !full.HasAlarm(AlarmNoSpace) || len(full.Errors) != 0 || full.LeaderID != full.MemberID {
		t.Fatalf("status with NOSPACE: alarms=%v errors=%q leader=%x member=%x", full.Alarms, full.Errors, full.LeaderID, full.MemberID)
	}
	if full.DBSizeQuota != testQuota || full.DBSize < testQuota*3/4 || full.DBSizeInUse <= 0 || full.DBSizeInUse > full.DBSize || full.Revision <= 1 {
		t.Fatalf("status with NOSPACE: size=%d inUse=%d quota=%d rev=%d", full.DBSize, full.DBSizeInUse, full.DBSizeQuota, full.Revision)
	}
	alarms, err := c.Alarms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Alarm{{MemberID: full.MemberID, Type: AlarmNoSpace}}; !reflect.DeepEqual(alarms, want) {
		t.Fatalf("alarms = %v, want %v", alarms, want)
	}
	// Disarming now is useless: the file is still at the quota, the next
	// write raises the alarm again.
	if _, err := raw.Put(ctx, "small", "v"); !errors.Is(err, rpctypes.ErrNoSpace) {
		t.Fatalf("put under NOSPACE: %v", err)
	}

	// Deletes pass under NOSPACE; compaction frees the old versions.
	if _, err := raw.Delete(ctx, "big"); err != nil {
		t.Fatalf("delete under NOSPACE: %v", err)
	}
	st, err := c.Status(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	if st.Revision <= full.Revision {
		t.Fatalf("revision after delete %d, before %d", st.Revision, full.Revision)
	}
	if err := c.Compact(ctx, st.Revision, true); err != nil {
		t.Fatal(err)
	}
	if err := c.Compact(ctx, st.Revision, true); err != nil {
		t.Fatalf("compacting again to the same revision: %v", err)
	}
	if err := c.Compact(ctx, st.Revision+1000, false); err == nil {
		t.Fatal("compacting to a future revision succeeded")
	}
	// etcd recomputes the size in use on a backend commit, which NOSPACE
	// may hold back after a compaction; a defragmentation recomputes it.
	if err := c.Defragment(ctx, ep); err != nil {
		t.Fatal(err)
	}
	defragged, err := c.Status(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	if defragged.DBSizeInUse >= full.DBSizeInUse/2 {
		t.Fatalf("in use after compaction and defragmentation %d, before %d", defragged.DBSizeInUse, full.DBSizeInUse)
	}
	if defragged.DBSize > testQuota/8 {
		t.Fatalf("size after defragment %d (before %d), want below %d", defragged.DBSize, full.DBSize, testQuota/8)
	}
	if !defragged.HasAlarm(AlarmNoSpace) {
		t.Fatal("defragmentation cleared the alarm; only a disarm should")
	}

	if err := c.DisarmAlarm(ctx, 0, AlarmNoSpace); err != nil {
		t.Fatal(err)
	}
	if err := c.DisarmAlarm(ctx, full.MemberID, AlarmNoSpace); err != nil {
		t.Fatalf("disarming an alarm no longer raised: %v", err)
	}
	if err := c.DisarmAlarm(ctx, 0, "BOGUS"); err == nil {
		t.Fatal("disarming an unknown alarm type succeeded")
	}
	if alarms, err := c.Alarms(ctx); err != nil || len(alarms) != 0 {
		t.Fatalf("alarms after disarm: %v, %v", alarms, err)
	}
	if _, err := raw.Put(ctx, "small", "v"); err != nil {
		t.Fatalf("put after recovery: %v", err)
	}
	if st, err := c.Status(ctx, ep); err != nil || len(st.Alarms) != 0 || len(st.ClusterAlarms) != 0 {
		t.Fatalf("status after recovery: %+v, %v", st, err)
	}
}

func TestDefragmentUnreachableFails(t *testing.T) {
	t.Parallel()
	ep := startEtcd(t, "defrag-dead")
	c, err := New(Config{Endpoints: []string{ep}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*DialTimeout)
	defer cancel()
	if err := c.Defragment(ctx, freeURL(t).String()); err == nil {
		t.Fatal("defragmenting a closed port succeeded")
	}
}

func TestSplitStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     []string
		alarms []Alarm
		rest   []string
	}{
		{"none", nil, nil, nil},
		{"gogo text", []string{"memberID:10276657743932975437 alarm:NOSPACE "},
			[]Alarm{{MemberID: 10276657743932975437, Type: AlarmNoSpace}}, nil},
		{"protobuf text, doubled space", []string{"memberID:1  alarm:CORRUPT"},
			[]Alarm{{MemberID: 1, Type: AlarmCorrupt}}, nil},
		{"no leader stays an error", []string{"etcdserver: no leader", "memberID:2 alarm:NOSPACE"},
			[]Alarm{{MemberID: 2, Type: AlarmNoSpace}}, []string{"etcdserver: no leader"}},
		{"unknown text stays an error", []string{"memberID:x alarm:NOSPACE", "alarm:NOSPACE"},
			nil, []string{"memberID:x alarm:NOSPACE", "alarm:NOSPACE"}},
		{"id beyond uint64 stays an error", []string{"memberID:99999999999999999999 alarm:NOSPACE"},
			nil, []string{"memberID:99999999999999999999 alarm:NOSPACE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alarms, rest := splitStatusErrors(tc.in)
			if !reflect.DeepEqual(alarms, tc.alarms) || !reflect.DeepEqual(rest, tc.rest) {
				t.Fatalf("got %v %q, want %v %q", alarms, rest, tc.alarms, tc.rest)
			}
		})
	}
}

// TestClusterAlarmsAndFollowerDefragment runs three members: an alarm of
// one member shows in every member's ClusterAlarms but only in its own
// Alarms, never in Errors (NOSPACE and CORRUPT); then a follower is
// defragmented while writes to the other two go on.
func TestClusterAlarmsAndFollowerDefragment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nodes := []*node{newNode(t, "a"), newNode(t, "b"), newNode(t, "c")}
	var initial []string
	for _, n := range nodes {
		initial = append(initial, n.name+"="+n.peer.String())
	}
	eps := map[uint64]string{}
	byID := map[uint64]*node{}
	for _, n := range nodes {
		startMember(t, n, strings.Join(initial, ","), "new")
	}
	for _, n := range nodes {
		<-n.etcd.Server.ReadyNotify()
		id := uint64(n.etcd.Server.MemberID())
		eps[id], byID[id] = n.client.String(), n
	}
	var all []string
	for _, ep := range eps {
		all = append(all, ep)
	}
	c, err := New(Config{Endpoints: all})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var leader, follower uint64
	retry(t, func() error {
		st, err := c.Status(ctx, all[0])
		if err != nil || st.LeaderID == 0 {
			return fmt.Errorf("no leader yet: %v", err)
		}
		leader = st.LeaderID
		return nil
	})
	for id := range eps {
		if id != leader {
			follower = id
			break
		}
	}

	for _, typ := range []AlarmType{AlarmNoSpace, AlarmCorrupt} {
		req := &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: follower, Alarm: pb.AlarmType(pb.AlarmType_value[string(typ)])}
		if _, err := byID[leader].etcd.Server.Alarm(ctx, req); err != nil {
			t.Fatalf("raising %s: %v", typ, err)
		}
		want := []Alarm{{MemberID: follower, Type: typ}}
		retry(t, func() error {
			for id, ep := range eps {
				st, err := c.Status(ctx, ep)
				if err != nil {
					return fmt.Errorf("status of %x with %s raised: %w", id, typ, err)
				}
				if len(st.Errors) != 0 || !reflect.DeepEqual(st.ClusterAlarms, want) || st.HasAlarm(typ) != (id == follower) {
					return fmt.Errorf("status of %x with %s on %x: errors=%q alarms=%v cluster=%v", id, typ, follower, st.Errors, st.Alarms, st.ClusterAlarms)
				}
			}
			return nil
		})
		if alarms, err := c.Alarms(ctx); err != nil || !reflect.DeepEqual(alarms, want) {
			t.Fatalf("alarms with %s raised: %v, %v", typ, alarms, err)
		}
		if typ == AlarmCorrupt {
			// Every member answers HashKV while CORRUPT is raised, with
			// the same hash at the same revision.
			var hashes []HashKV
			for id, ep := range eps {
				h, err := c.HashKV(ctx, ep, 0)
				if err != nil || h.MemberID != id || h.Revision == 0 {
					t.Fatalf("HashKV of %x with CORRUPT raised: %+v, %v", id, h, err)
				}
				hashes = append(hashes, h)
			}
			for _, h := range hashes[1:] {
				if h.Hash != hashes[0].Hash || h.Revision != hashes[0].Revision || h.CompactRevision != hashes[0].CompactRevision {
					t.Fatalf("hashes differ: %+v", hashes)
				}
			}
		}
		if err := c.DisarmAlarm(ctx, follower, typ); err != nil {
			t.Fatal(err)
		}
		if alarms, err := c.Alarms(ctx); err != nil || len(alarms) != 0 {
			t.Fatalf("alarms after disarming %s: %v, %v", typ, alarms, err)
		}
	}

	// Fragment the backend: write, delete, compact.
	raw, err := clientv3.New(clientv3.Config{Endpoints: all, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	value := strings.Repeat("v", 64<<10)
	for i := range 64 {
		if _, err := raw.Put(ctx, fmt.Sprintf("frag/%d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	del, err := raw.Delete(ctx, "frag/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Compact(ctx, del.Header.Revision, true); err != nil {
		t.Fatal(err)
	}
	before, err := c.Status(ctx, eps[follower])
	if err != nil {
		t.Fatal(err)
	}

	// Writes to the other two members go on during the defragmentation.
	var others []string
	for id, ep := range eps {
		if id != follower {
			others = append(others, ep)
		}
	}
	w, err := clientv3.New(clientv3.Config{Endpoints: others, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	stop, done := make(chan struct{}), make(chan error, 1)
	writes := 0
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			wctx, cancel := context.WithTimeout(ctx, RequestTimeout)
			_, err := w.Put(wctx, fmt.Sprintf("live/%d", i%100), "x")
			cancel()
			if err != nil {
				done <- fmt.Errorf("write %d during defragmentation: %w", i, err)
				return
			}
			writes++
		}
	}()
	defragErr := c.Defragment(ctx, eps[follower])
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if defragErr != nil {
		t.Fatal(defragErr)
	}
	after, err := c.Status(ctx, eps[follower])
	if err != nil {
		t.Fatal(err)
	}
	if after.DBSize >= before.DBSize || after.LeaderID != leader || writes == 0 {
		t.Fatalf("follower defragmented: size %d -> %d, leader %x -> %x, %d writes", before.DBSize, after.DBSize, leader, after.LeaderID, writes)
	}
}
