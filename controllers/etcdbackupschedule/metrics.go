package etcdbackupschedule

import (
	"k8s.io/apimachinery/pkg/types"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/cronslot"
	"quorum.dev/etcd-operator/internal/opmetrics"
)

// recordScheduleMetrics exports what the alert on stale backups needs:
// the last success (status.lastSuccessfulTime), the schedule's interval
// (between its next two slots; dropped while suspended or invalid) and its
// creation time. etcd_cluster is spec.backupTemplate.clusterName, empty
// for an external etcd.
func recordScheduleMetrics(s *etcdv1.EtcdBackupSchedule) {
	ns, cluster := s.Namespace, s.Spec.BackupTemplate.ClusterName
	opmetrics.BackupScheduleCreated.WithLabelValues(ns, cluster, s.Name).Set(float64(s.CreationTimestamp.Unix()))
	if t := s.Status.LastSuccessfulTime; t != nil {
		opmetrics.BackupScheduleLastSuccess.WithLabelValues(ns, cluster, s.Name).Set(float64(t.Unix()))
	}
	interval := scheduleInterval(s)
	if interval <= 0 {
		opmetrics.BackupScheduleInterval.DeleteLabelValues(ns, cluster, s.Name)
		return
	}
	opmetrics.BackupScheduleInterval.WithLabelValues(ns, cluster, s.Name).Set(interval)
}

// scheduleInterval is the time between the next two slots after
// status.nextScheduleTime, in seconds; 0 while suspended, invalid or
// without a next slot.
func scheduleInterval(s *etcdv1.EtcdBackupSchedule) float64 {
	if s.Spec.Suspend || s.Status.NextScheduleTime == nil {
		return 0
	}
	sched, loc, err := parseSchedule(s.Spec.Schedule, s.Spec.TimeZone)
	if err != nil {
		return 0
	}
	next := s.Status.NextScheduleTime.Time
	after := cronslot.Next(sched, loc, next)
	if after.IsZero() {
		return 0
	}
	return after.Sub(next).Seconds()
}

// forgetScheduleMetrics drops the series of a deleted schedule.
func forgetScheduleMetrics(key types.NamespacedName) {
	opmetrics.ForgetSchedule(key.Namespace, key.Name)
}
