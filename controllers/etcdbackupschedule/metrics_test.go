package etcdbackupschedule

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func TestScheduleInterval(t *testing.T) {
	next := metav1.NewTime(time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC))
	cases := []struct {
		name     string
		schedule string
		tz       *string
		suspend  bool
		next     *metav1.Time
		want     float64
	}{
		{"hourly", "0 * * * *", nil, false, &next, 3600},
		{"daily", "0 3 * * *", nil, false, &next, 86400},
		{"every 15 minutes", "*/15 * * * *", nil, false, &next, 900},
		// Europe/Berlin moves to summer time on 2026-03-29 at 02:00:
		// from 01:30 that day to 01:30 the next is 23 hours.
		{"daily across a DST change", "30 1 * * *", ptr.To("Europe/Berlin"), false, ptr.To(metav1.NewTime(time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC))), 23 * 3600},
		{"suspended", "0 * * * *", nil, true, &next, 0},
		{"no next slot", "0 * * * *", nil, false, nil, 0},
		{"invalid", "not a schedule", nil, false, &next, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &etcdv1.EtcdBackupSchedule{Spec: etcdv1.EtcdBackupScheduleSpec{Schedule: tc.schedule, TimeZone: tc.tz, Suspend: tc.suspend}}
			s.Status.NextScheduleTime = tc.next
			if got := scheduleInterval(s); got != tc.want {
				t.Errorf("scheduleInterval = %v, want %v", got, tc.want)
			}
		})
	}
}
