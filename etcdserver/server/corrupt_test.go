package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/features"
	"go.etcd.io/etcd/server/v3/storage/datadir"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"

	"quorum.dev/etcd-operator/internal/contract"
)

func TestCorruptionChecksOnUnlessSet(t *testing.T) {
	for _, tc := range []struct {
		options          string
		initial, compact bool
	}{
		{"", true, true},
		{"feature-gates: InitialCorruptCheck=false\n", false, true},
		{"feature-gates: CompactHashCheck=false,InitialCorruptCheck=true\n", true, false},
	} {
		s := localSettings(t, "gates", "")
		s.ConfigFile = writeFile(t, testOptions+tc.options)
		cfg, err := s.EmbedConfig(Bootstrap{Mode: ModeNew, InitialCluster: s.InitialCluster})
		if err != nil {
			t.Fatalf("%q: %v", tc.options, err)
		}
		if got := cfg.ServerFeatureGate.Enabled(features.InitialCorruptCheck); got != tc.initial {
			t.Errorf("%q: InitialCorruptCheck = %t, want %t", tc.options, got, tc.initial)
		}
		if got := cfg.ServerFeatureGate.Enabled(features.CompactHashCheck); got != tc.compact {
			t.Errorf("%q: CompactHashCheck = %t, want %t", tc.options, got, tc.compact)
		}
	}
}

func TestDecodeAlarmMember(t *testing.T) {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 0x8e9e05c52164694d)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, alarmCorrupt)
	if m, a := decodeAlarmMember(b); m != 0x8e9e05c52164694d || a != alarmCorrupt {
		t.Errorf("decoded %x/%d", m, a)
	}
	if m, a := decodeAlarmMember([]byte{0xff}); m != 0 || a != 0 {
		t.Errorf("garbage decoded as %x/%d", m, a)
	}
}

func TestSetAsideCorruptKeepsTheNewest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var moved []string
	for i := range 2 {
		if err := os.MkdirAll(filepath.Join(dir, "member"), 0o700); err != nil {
			t.Fatal(err)
		}
		got, err := setAsideCorrupt(dir, now.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		moved = append(moved, got)
	}
	if want := dir + ".corrupt-20260301T110000Z"; moved[1] != want {
		t.Errorf("moved to %s, want %s", moved[1], want)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the data dir is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(moved[1], "member")); err != nil {
		t.Errorf("the newest copy lost its content: %v", err)
	}
	if _, err := os.Stat(moved[0]); !os.IsNotExist(err) {
		t.Errorf("the older copy %s is kept: %v", moved[0], err)
	}
}

func TestCheckBackend(t *testing.T) {
	dir := t.TempDir()
	if err := checkBackend(dir); err != nil {
		t.Errorf("no backend file: %v", err)
	}
	db := datadir.ToBackendFileName(dir)
	if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, bytes.Repeat([]byte{0xab}, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkBackend(dir); err == nil {
		t.Error("a backend of garbage opened")
	}
}

// TestCorruptMemberRefusesThenRejoins: member C of three is stopped and
// the bytes of a value in its backend file are changed. It refuses to
// start (etcd's initial corruption check), naming its ID and leaving the
// marker; once removed and added back as a learner it sets its data
// aside as <data dir>.corrupt-<time>, joins and ends with the same hash.
func TestCorruptMemberRefusesThenRejoins(t *testing.T) {
	t.Parallel()
	ss := localCluster(t, "rot", 3)
	ms := make([]*member, len(ss))
	for i, s := range ss {
		ms[i] = startMember(t, s)
	}
	for _, m := range ms {
		waitStatus(t, m, m.metricsURL("/readyz"), http.StatusOK)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitTimeout)
	defer cancel()
	cli := newClient(t, "", ss[0].AdvertiseClientURL, ss[1].AdvertiseClientURL)
	sentinel := "quorum-corruption-sentinel-0123456789"
	if _, err := cli.Put(ctx, "victim", sentinel); err != nil {
		t.Fatalf("put: %v", err)
	}
	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cID := memberID(t, list, ss[2].Name)
	// A linearizable read on C returns once C has applied the put, so the
	// value is in C's backend when it stops (the stop commits it).
	beforeStop := newClient(t, "", ss[2].AdvertiseClientURL)
	if resp, err := beforeStop.Get(ctx, "victim"); err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("reading the value on C: %v %v", resp, err)
	}
	if err := ms[2].stop(t); err != nil {
		t.Fatalf("stopping C: %v", err)
	}
	damageValue(t, ss[2].DataDir, sentinel)

	c := ss[2]
	c.ClusterState = ClusterStateExisting
	err = Run(ctx, zap.NewNop(), c)
	if id, ok := contract.CorruptMemberID(err.Error()); !ok || id != cID {
		t.Fatalf("Run = %v; want a data-corrupt report naming %x", err, cID)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, CorruptMarkerFile)); err != nil {
		t.Fatalf("no marker: %v", err)
	}

	removeMember(ctx, t, cli, cID)
	added := addLearner(ctx, t, cli, c.AdvertisePeerURL.String())
	c.TerminationLog = emptyFile(t)
	c2 := startMember(t, c)
	waitStatus(t, c2, c2.metricsURL("/readyz?exclude=non_learner"), http.StatusOK)
	aside, _ := filepath.Glob(c.DataDir + contract.CorruptSetAsideSuffix + "*")
	if len(aside) != 1 {
		t.Fatalf("corrupt copies: %v, want one", aside)
	}
	if _, err := os.Stat(filepath.Join(aside[0], CorruptMarkerFile)); err != nil {
		t.Errorf("the marker did not move with the data: %v", err)
	}
	if msg := readFile(t, c.TerminationLog); !strings.Contains(msg, "data moved to "+aside[0]) {
		t.Errorf("termination log = %q", msg)
	}
	promote(ctx, t, cli, added.Member.ID)
	var eps []string
	for _, s := range ss {
		eps = append(eps, s.AdvertiseClientURL.String())
	}
	sameRevisionAndHash(ctx, t, cli, eps...)
	onC := newClient(t, "", c.AdvertiseClientURL)
	if resp, err := onC.Get(ctx, "victim"); err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != sentinel {
		t.Fatalf("get through C: %v %v", resp, err)
	}
}

// TestRemovedMemberNamedByCorruptAlarm: a CORRUPT alarm naming member C
// is in C's own backend; C, removed, sets its data aside as corrupt.
func TestRemovedMemberNamedByCorruptAlarm(t *testing.T) {
	t.Parallel()
	s := localSettings(t, "alarmed", "")
	m := startMember(t, s)
	waitStatus(t, m, m.metricsURL("/readyz"), http.StatusOK)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cli := newClient(t, "", s.AdvertiseClientURL)
	st, err := cli.Status(ctx, s.AdvertiseClientURL.String())
	if err != nil {
		t.Fatal(err)
	}
	id := st.Header.MemberId
	if _, err := pb.NewMaintenanceClient(cli.ActiveConnection()).Alarm(ctx, &pb.AlarmRequest{
		Action: pb.AlarmRequest_ACTIVATE, MemberID: id, Alarm: pb.AlarmType_CORRUPT}); err != nil {
		t.Fatalf("raising CORRUPT: %v", err)
	}
	if err := m.stop(t); err != nil {
		t.Fatal(err)
	}
	if got := corruptEvidence(zap.NewNop(), s.DataDir, id); !strings.Contains(got, "CORRUPT alarm") {
		t.Errorf("evidence for the alarmed member = %q", got)
	}
	if got := corruptEvidence(zap.NewNop(), s.DataDir, id+1); got != "" {
		t.Errorf("evidence for another member = %q", got)
	}
}

// damageValue changes one byte of every copy of value in the backend
// file of the stopped member in dataDir; the file stays a valid bbolt
// database (bbolt keeps no page checksums), only the data differ.
func damageValue(t *testing.T, dataDir, value string) {
	t.Helper()
	path := datadir.ToBackendFileName(dataDir)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := bytes.Count(b, []byte(value))
	if n == 0 {
		t.Fatalf("%q not found in %s", value, path)
	}
	b = bytes.ReplaceAll(b, []byte(value), []byte(strings.ToUpper(value[:1])+value[1:]))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkBackend(dataDir); err != nil {
		t.Fatal(errors.Join(errors.New("the damaged file no longer opens"), err))
	}
}
