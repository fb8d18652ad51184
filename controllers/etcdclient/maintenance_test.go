package etcdclient

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

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
	compacted, err := c.Status(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	if compacted.DBSizeInUse >= full.DBSizeInUse/2 {
		t.Fatalf("in use after compaction %d, before %d", compacted.DBSizeInUse, full.DBSizeInUse)
	}

	if err := c.Defragment(ctx, ep); err != nil {
		t.Fatal(err)
	}
	defragged, err := c.Status(ctx, ep)
	if err != nil {
		t.Fatal(err)
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
