package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestProbesUnderAlarms pins down what the pod probes (served by embed on
// the metrics port, see doc.go) say while an alarm is raised, and that the
// client port keeps answering the operator:
//
//   - NOSPACE: /readyz stays 200 (its checks are data_corruption and reads,
//     which pass), so the member stays Ready and keeps serving reads;
//     /health (not a probe) answers 503.
//   - CORRUPT: /readyz answers 503 (data_corruption), on every member since
//     the alarm list is cluster-wide; /livez stays 200, so the kubelet does
//     not restart the member; status and the alarm list still answer on the
//     client port.
func TestProbesUnderAlarms(t *testing.T) {
	t.Parallel()
	s := localSettings(t, "alarm-0", "")
	s.ConfigFile = writeFile(t, testOptions+"quota-backend-bytes: 16777216\n")
	m := startMember(t, s)
	waitStatus(t, m, m.metricsURL("/readyz"), http.StatusOK)

	cli := newClient(t, "", s.AdvertiseClientURL)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	value := strings.Repeat("x", 512<<10)
	var err error
	for i := 0; i < 200 && err == nil; i++ {
		_, err = cli.Put(ctx, "big", value)
	}
	if !errors.Is(err, rpctypes.ErrNoSpace) {
		t.Fatalf("filling a 16 MiB quota ended with %v, want %v", err, rpctypes.ErrNoSpace)
	}
	if _, err := cli.Get(ctx, "big"); err != nil {
		t.Fatalf("linearizable read under NOSPACE: %v", err)
	}
	probes := func(want map[string]int) {
		t.Helper()
		for path, code := range want {
			got, body, err := httpStatus(m.metricsURL(path))
			if err != nil || got != code {
				t.Errorf("GET %s: %d %v %.300q, want %d", path, got, err, body, code)
			}
		}
	}
	probes(map[string]int{"/readyz": http.StatusOK, "/livez": http.StatusOK, "/health": http.StatusServiceUnavailable})

	st, err := cli.Status(ctx, s.AdvertiseClientURL.String())
	if err != nil {
		t.Fatal(err)
	}
	corrupt := &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: st.Header.MemberId, Alarm: pb.AlarmType_CORRUPT}
	if _, err := pb.NewMaintenanceClient(cli.ActiveConnection()).Alarm(ctx, corrupt); err != nil {
		t.Fatalf("raising CORRUPT: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _, _ := httpStatus(m.metricsURL("/readyz")); code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz still ready with CORRUPT raised")
		}
		time.Sleep(50 * time.Millisecond)
	}
	probes(map[string]int{"/readyz/data_corruption": http.StatusServiceUnavailable, "/livez": http.StatusOK,
		"/readyz?exclude=data_corruption": http.StatusOK})
	if _, err := cli.Status(ctx, s.AdvertiseClientURL.String()); err != nil {
		t.Fatalf("status with CORRUPT raised: %v", err)
	}
	alarms, err := cli.AlarmList(ctx)
	if err != nil || len(alarms.Alarms) != 2 {
		t.Fatalf("alarm list with CORRUPT raised: %v, %v", alarms, err)
	}

	// Disarming CORRUPT makes the member ready again; NOSPACE alone does not
	// keep it unready.
	if _, err := cli.AlarmDisarm(ctx, &clientv3.AlarmMember{MemberID: st.Header.MemberId, Alarm: pb.AlarmType_CORRUPT}); err != nil {
		t.Fatalf("disarming CORRUPT: %v", err)
	}
	waitStatus(t, m, m.metricsURL("/readyz"), http.StatusOK)
}
