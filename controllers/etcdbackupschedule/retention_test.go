package etcdbackupschedule

import (
	"math/rand"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var retentionNow = utc("2026-05-01T12:00:00Z")

// bk is a backup of phase completed hoursAgo before retentionNow.
func bk(name string, phase etcdv1.BackupPhase, hoursAgo float64) etcdv1.EtcdBackup {
	b := etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: name}}
	b.Status.Phase = phase
	t := metav1.NewTime(retentionNow.Add(-time.Duration(hoursAgo * float64(time.Hour))))
	b.Status.CompletionTime = &t
	return b
}

func names(bs []*etcdv1.EtcdBackup) []string {
	out := []string{}
	for _, b := range bs {
		out = append(out, b.Name)
	}
	slices.Sort(out)
	return out
}

func TestExpiredBackups(t *testing.T) {
	const ok, failed = etcdv1.BackupSucceeded, etcdv1.BackupFailed
	five := []etcdv1.EtcdBackup{bk("a", ok, 1), bk("b", ok, 25), bk("c", ok, 49), bk("d", ok, 73), bk("e", ok, 97)}
	deleting := bk("z", ok, 500)
	deleting.DeletionTimestamp = &metav1.Time{Time: retentionNow}
	for _, c := range []struct {
		name    string
		backups []etcdv1.EtcdBackup
		policy  retentionPolicy
		want    []string
	}{
		{name: "keepLast 3 of 5", backups: five, policy: retentionPolicy{keepLast: 3}, want: []string{"d", "e"}},
		{name: "keepLast above the count", backups: five, policy: retentionPolicy{keepLast: 10}, want: []string{}},
		{name: "keepLast 1", backups: five, policy: retentionPolicy{keepLast: 1}, want: []string{"b", "c", "d", "e"}},
		{name: "maxAge 48h", backups: five, policy: retentionPolicy{maxAge: 48 * time.Hour}, want: []string{"c", "d", "e"}},
		{name: "maxAge: exactly that old is kept", backups: five, policy: retentionPolicy{maxAge: 49 * time.Hour}, want: []string{"d", "e"}},
		{name: "both: either expires", backups: five, policy: retentionPolicy{keepLast: 4, maxAge: 72 * time.Hour}, want: []string{"d", "e"}},
		{name: "both: keepLast stricter", backups: five, policy: retentionPolicy{keepLast: 2, maxAge: 72 * time.Hour}, want: []string{"c", "d", "e"}},
		{name: "no limit", backups: five, policy: retentionPolicy{}, want: []string{}},
		{name: "the newest is kept however old", backups: []etcdv1.EtcdBackup{bk("old", ok, 1000), bk("older", ok, 2000)},
			policy: retentionPolicy{maxAge: time.Hour}, want: []string{"older"}},
		{name: "a lone success is kept", backups: []etcdv1.EtcdBackup{bk("only", ok, 1000), bk("f1", failed, 1), bk("f2", failed, 2)},
			policy: retentionPolicy{keepLast: 1, maxAge: time.Hour}, want: []string{}},
		{name: "other phases are never expired nor counted", backups: []etcdv1.EtcdBackup{
			bk("new", ok, 1), bk("fail", failed, 2), bk("run", etcdv1.BackupRunning, 300), bk("pend", etcdv1.BackupPending, 400),
			bk("none", "", 500), bk("ok2", ok, 3), bk("oldfail", failed, 600)},
			policy: retentionPolicy{keepLast: 2, maxAge: time.Hour}, want: []string{"ok2"}},
		{name: "keepLast counts successes only", backups: []etcdv1.EtcdBackup{
			bk("f1", failed, 1), bk("f2", failed, 2), bk("s1", ok, 3), bk("s2", ok, 4), bk("s3", ok, 5)},
			policy: retentionPolicy{keepLast: 2}, want: []string{"s3"}},
		{name: "backups being deleted are left alone", backups: append(slices.Clone(five), deleting), policy: retentionPolicy{keepLast: 3}, want: []string{"d", "e"}},
		{name: "same time: the greater name is newer", backups: []etcdv1.EtcdBackup{bk("s-100", ok, 5), bk("s-200", ok, 5), bk("s-300", ok, 5)},
			policy: retentionPolicy{keepLast: 1}, want: []string{"s-100", "s-200"}},
		{name: "names are not used for order: -10 is newer than -9", backups: []etcdv1.EtcdBackup{bk("s-9", ok, 2), bk("s-10", ok, 1)},
			policy: retentionPolicy{keepLast: 1}, want: []string{"s-9"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for range 5 { // any list order gives the same answer
				in := slices.Clone(c.backups)
				rand.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
				if got := names(expiredBackups(in, c.policy, retentionNow)); !slices.Equal(got, c.want) {
					t.Fatalf("expired %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestBackupTime(t *testing.T) {
	b := etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(utc("2026-05-01T10:00:05Z"))}}
	if got := backupTime(&b); !got.Equal(utc("2026-05-01T10:00:05Z")) {
		t.Errorf("creation: %s", got)
	}
	b.Annotations = map[string]string{etcdv1.AnnotationScheduledAt: "2026-05-01T10:00:00Z"}
	if got := backupTime(&b); !got.Equal(utc("2026-05-01T10:00:00Z")) {
		t.Errorf("slot: %s", got)
	}
	done := metav1.NewTime(utc("2026-05-01T10:03:00Z"))
	b.Status.CompletionTime = &done
	if got := backupTime(&b); !got.Equal(done.Time) {
		t.Errorf("completion: %s", got)
	}
}

func TestExcessFailed(t *testing.T) {
	bs := []etcdv1.EtcdBackup{bk("f3", etcdv1.BackupFailed, 3), bk("s", etcdv1.BackupSucceeded, 0), bk("f1", etcdv1.BackupFailed, 1),
		bk("r", etcdv1.BackupRunning, 9), bk("f2", etcdv1.BackupFailed, 2)}
	for limit, want := range map[int][]string{0: {"f1", "f2", "f3"}, 1: {"f2", "f3"}, 2: {"f3"}, 3: {}, 5: {}} {
		if got := names(excessFailed(bs, limit)); !slices.Equal(got, want) {
			t.Errorf("limit %d: %v, want %v", limit, got, want)
		}
	}
}

func TestRetentionOf(t *testing.T) {
	maxAge := &metav1.Duration{Duration: 168 * time.Hour}
	for _, c := range []struct {
		name string
		spec etcdv1.EtcdBackupScheduleSpec
		want retentionPolicy
	}{
		{name: "default", want: retentionPolicy{keepLast: 7}},
		{name: "keepLast", spec: etcdv1.EtcdBackupScheduleSpec{Retention: &etcdv1.BackupRetention{KeepLast: ptr.To[int32](3)}}, want: retentionPolicy{keepLast: 3}},
		{name: "maxAge only: no count", spec: etcdv1.EtcdBackupScheduleSpec{Retention: &etcdv1.BackupRetention{MaxAge: maxAge}}, want: retentionPolicy{maxAge: 168 * time.Hour}},
		{name: "history limit below keepLast", spec: etcdv1.EtcdBackupScheduleSpec{Retention: &etcdv1.BackupRetention{KeepLast: ptr.To[int32](10)}, SuccessfulBackupsHistoryLimit: ptr.To[int32](4)},
			want: retentionPolicy{keepLast: 4}},
		{name: "history limit above keepLast", spec: etcdv1.EtcdBackupScheduleSpec{Retention: &etcdv1.BackupRetention{KeepLast: ptr.To[int32](3)}, SuccessfulBackupsHistoryLimit: ptr.To[int32](4)},
			want: retentionPolicy{keepLast: 3}},
		{name: "history limit with maxAge", spec: etcdv1.EtcdBackupScheduleSpec{Retention: &etcdv1.BackupRetention{MaxAge: maxAge}, SuccessfulBackupsHistoryLimit: ptr.To[int32](20)},
			want: retentionPolicy{keepLast: 20, maxAge: 168 * time.Hour}},
	} {
		if got := retentionOf(&c.spec); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if failedHistoryLimit(&etcdv1.EtcdBackupScheduleSpec{}) != 1 || failedHistoryLimit(&etcdv1.EtcdBackupScheduleSpec{FailedBackupsHistoryLimit: ptr.To[int32](0)}) != 0 {
		t.Error("failed history limit")
	}
}
