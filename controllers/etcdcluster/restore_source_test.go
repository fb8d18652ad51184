package etcdcluster

import (
	"errors"
	"strings"
	"testing"
	"time"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func TestRestoreWait(t *testing.T) {
	backup := func(phase etcdv1.BackupPhase) *etcdv1.EtcdBackup {
		b := &etcdv1.EtcdBackup{}
		b.Status.Phase = phase
		return b
	}
	cases := []struct {
		name    string
		b       *etcdv1.EtcdBackup
		age     time.Duration
		want    string // "wait", "degraded" or "" (go on)
		message string
	}{
		{"running backup: a planned wait", backup(etcdv1.BackupRunning), time.Hour, "wait", "waiting for EtcdBackup b to restore from: it is Running"},
		{"pending backup", backup(etcdv1.BackupPending), time.Hour, "wait", "it is Pending"},
		{"backup without a phase yet", backup(""), 0, "wait", "it is not started"},
		{"succeeded", backup(etcdv1.BackupSucceeded), time.Hour, "", ""},
		{"failed", backup(etcdv1.BackupFailed), 0, "degraded", "EtcdBackup b to restore from is Failed"},
		{"missing within the grace", nil, 30 * time.Second, "wait", "not found yet"},
		{"missing after the grace", nil, restoreSourceGrace, "degraded", "EtcdBackup b to restore from not found (waited 1m0s)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := restoreWait("b", tc.b, tc.age)
			var we *waitError
			var se *specError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("restoreWait = %v, want nil", err)
			case tc.want == "wait" && !(errors.As(err, &we) && we.reason == etcdv1.ReasonRestoreSourcePending):
				t.Fatalf("restoreWait = %#v, want a RestoreSourcePending wait", err)
			case tc.want == "degraded" && !(errors.As(err, &se) && se.reason == etcdv1.ReasonRestoreSourceNotReady):
				t.Fatalf("restoreWait = %#v, want a RestoreSourceNotReady spec error", err)
			}
			if err != nil && !strings.Contains(err.Error(), tc.message) {
				t.Errorf("message %q, want it to contain %q", err.Error(), tc.message)
			}
		})
	}
}
