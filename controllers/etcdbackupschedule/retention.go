package etcdbackupschedule

import (
	"sort"
	"time"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Defaults of an EtcdBackupSchedule when the API server has not set them
// (objects created before the field existed, or with the default removed).
const (
	defaultKeepLast           = 7
	defaultFailedHistoryLimit = 1
)

// retentionPolicy is spec.retention and spec.successfulBackupsHistoryLimit
// reduced to two numbers; zero means no limit.
type retentionPolicy struct {
	keepLast int
	maxAge   time.Duration
}

func retentionOf(spec *etcdv1.EtcdBackupScheduleSpec) retentionPolicy {
	p := retentionPolicy{keepLast: defaultKeepLast}
	if r := spec.Retention; r != nil {
		p.keepLast = 0
		if r.KeepLast != nil {
			p.keepLast = int(*r.KeepLast)
		}
		if r.MaxAge != nil {
			p.maxAge = r.MaxAge.Duration
		}
	}
	if l := spec.SuccessfulBackupsHistoryLimit; l != nil && (p.keepLast == 0 || int(*l) < p.keepLast) {
		p.keepLast = int(*l)
	}
	return p
}

func failedHistoryLimit(spec *etcdv1.EtcdBackupScheduleSpec) int {
	if spec.FailedBackupsHistoryLimit == nil {
		return defaultFailedHistoryLimit
	}
	return int(*spec.FailedBackupsHistoryLimit)
}

// backupTime orders backups and ages them: the completion time, else the
// slot the backup was made for, else its creation.
func backupTime(b *etcdv1.EtcdBackup) time.Time {
	if t := b.Status.CompletionTime; t != nil {
		return t.Time
	}
	if t, err := time.Parse(time.RFC3339, b.Annotations[etcdv1.AnnotationScheduledAt]); err == nil {
		return t
	}
	return b.CreationTimestamp.Time
}

// newestFirst returns the backups of phase, newest first (ties by name, so
// the order never depends on the list's order).
func newestFirst(backups []etcdv1.EtcdBackup, phase etcdv1.BackupPhase) []*etcdv1.EtcdBackup {
	var out []*etcdv1.EtcdBackup
	for i := range backups {
		if backups[i].Status.Phase == phase && backups[i].DeletionTimestamp.IsZero() {
			out = append(out, &backups[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := backupTime(out[i]), backupTime(out[j])
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return out[i].Name > out[j].Name
	})
	return out
}

// expiredBackups are the succeeded backups retention removes: those beyond
// keepLast (newest kept) and those older than maxAge at now. The newest
// succeeded backup is never expired, however old: a schedule whose backups
// fail or that is suspended keeps its last good snapshot. Backups in any
// other phase are never returned.
func expiredBackups(backups []etcdv1.EtcdBackup, p retentionPolicy, now time.Time) []*etcdv1.EtcdBackup {
	var out []*etcdv1.EtcdBackup
	for i, b := range newestFirst(backups, etcdv1.BackupSucceeded) {
		switch {
		case i == 0:
		case p.keepLast > 0 && i >= p.keepLast:
			out = append(out, b)
		case p.maxAge > 0 && now.Sub(backupTime(b)) > p.maxAge:
			out = append(out, b)
		}
	}
	return out
}

// excessFailed are the failed backups beyond limit, newest kept.
func excessFailed(backups []etcdv1.EtcdBackup, limit int) []*etcdv1.EtcdBackup {
	failed := newestFirst(backups, etcdv1.BackupFailed)
	if len(failed) <= limit {
		return nil
	}
	return failed[limit:]
}
