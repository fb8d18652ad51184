package plugin

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *metav1.Time { return &metav1.Time{Time: now.Add(-d)} }

func healthyCluster() *etcdv1.EtcdCluster {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod"},
		Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3), Version: "3.7.3", Storage: etcdv1.StorageSpec{Medium: etcdv1.StoragePersistentVolume}}}
	c.Status = etcdv1.EtcdClusterStatus{
		ReadyReplicas: 3, ClusterID: "a1b2c3", ClientEndpoint: "https://db-client.prod.svc.cluster.local:2379", AuthEnabled: true,
		Storage: &etcdv1.StorageStatus{Capacity: ptr.To(resource.MustParse("1Gi"))},
		// Out of order on purpose: db-10 sorts after db-2 by ordinal.
		Members: []etcdv1.MemberStatus{
			{Name: "db-10", ID: "3", Role: etcdv1.RoleLearner, Version: "3.7.3", Healthy: false, Error: "context deadline exceeded"},
			{Name: "db-0", ID: "1", Role: etcdv1.RoleLeader, Version: "3.7.3", Healthy: true, DBSize: 25 << 20, DBSizeInUse: 12 << 20},
			{Name: "db-2", ID: "2", Role: etcdv1.RoleFollower, Version: "3.7.3", Healthy: true, DBSize: 25 << 20, DBSizeInUse: 900, Alarms: []string{"NOSPACE"}},
		},
		Conditions: []metav1.Condition{
			{Type: etcdv1.ConditionAvailable, Status: "True", Reason: etcdv1.ReasonQuorumHealthy, Message: "3 of 3 members healthy", LastTransitionTime: *ago(2 * time.Hour)},
			{Type: etcdv1.ConditionProgressing, Status: "False", Reason: "Stable", Message: "nothing to do", LastTransitionTime: *ago(90 * time.Second)},
		},
	}
	return c
}

func TestRenderStatus(t *testing.T) {
	restoring := healthyCluster()
	restoring.Status.Restore = &etcdv1.ClusterRestoreStatus{Name: "r1", RestoreID: "x"}
	bare := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "dev"}, Spec: etcdv1.EtcdClusterSpec{TLS: etcdv1.TLSSpec{Enabled: ptr.To(false)}}}
	cases := []struct {
		golden string
		in     StatusInput
	}{
		{"status-healthy.golden", StatusInput{
			Cluster: healthyCluster(),
			Backups: []etcdv1.EtcdBackup{
				{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Status: etcdv1.EtcdBackupStatus{Phase: etcdv1.BackupSucceeded, CompletionTime: ago(48 * time.Hour), Revision: 10, Location: "s3://b/old"}},
				{ObjectMeta: metav1.ObjectMeta{Name: "newest"}, Status: etcdv1.EtcdBackupStatus{Phase: etcdv1.BackupSucceeded, CompletionTime: ago(5 * time.Minute), Revision: 99, Location: "s3://b/newest"}},
				{ObjectMeta: metav1.ObjectMeta{Name: "broken"}, Status: etcdv1.EtcdBackupStatus{Phase: etcdv1.BackupFailed}},
				{ObjectMeta: metav1.ObjectMeta{Name: "now"}, Status: etcdv1.EtcdBackupStatus{Phase: etcdv1.BackupRunning}},
			},
			Schedules: []etcdv1.EtcdBackupSchedule{{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}, Spec: etcdv1.EtcdBackupScheduleSpec{Schedule: "0 3 * * *"},
				Status: etcdv1.EtcdBackupScheduleStatus{Conditions: []metav1.Condition{{Type: etcdv1.ScheduleConditionReady, Status: "True", Reason: "Scheduled"}}}}},
			Certificates: []CertExpiry{{Secret: "db-ca", NotAfter: now.Add(3650 * 24 * time.Hour)}, {Secret: "db-server-tls", NotAfter: now.Add(89 * 24 * time.Hour)},
				{Secret: "db-client-tls", Err: "secrets \"db-client-tls\" not found"}},
		}},
		{"status-restoring.golden", StatusInput{Cluster: restoring}},
		{"status-bare.golden", StatusInput{Cluster: bare}},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := RenderStatus(&buf, tc.in, now); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/plugin -update to write it)", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("status screen differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

func TestRenderStatusOrdersMembersByOrdinal(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderStatus(&buf, StatusInput{Cluster: healthyCluster()}, now); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	i0, i2, i10 := strings.Index(s, "db-0 "), strings.Index(s, "db-2 "), strings.Index(s, "db-10 ")
	if !(i0 >= 0 && i0 < i2 && i2 < i10) {
		t.Errorf("members not in ordinal order (db-0 %d, db-2 %d, db-10 %d):\n%s", i0, i2, i10, s)
	}
}

func TestOperation(t *testing.T) {
	withProgress := func(status metav1.ConditionStatus) *etcdv1.EtcdCluster {
		c := healthyCluster()
		c.Status.Conditions = []metav1.Condition{{Type: etcdv1.ConditionProgressing, Status: status, Reason: "Scaling", Message: "adding db-3"}}
		return c
	}
	tls := healthyCluster()
	tls.Status.TLSMigration = &etcdv1.TLSMigrationStatus{Phase: etcdv1.TLSMigrationListenHTTPS}
	caRot := healthyCluster()
	caRot.Status.CertificateAuthority = &etcdv1.CertificateAuthorityStatus{Rotation: &etcdv1.CARotationStatus{Phase: etcdv1.CARotationIssueFromNew, Reason: "requested"}}
	restoreDone := healthyCluster()
	restoreDone.Status.Restore = &etcdv1.ClusterRestoreStatus{Name: "r1", Done: true}
	undoing := healthyCluster()
	undoing.Status.Restore = &etcdv1.ClusterRestoreStatus{Name: "r2", Failure: "snapshot not found"}
	rolledBack := healthyCluster()
	rolledBack.Status.Restore = &etcdv1.ClusterRestoreStatus{Name: "r2", Failure: "snapshot not found", RolledBack: true}
	defrag := healthyCluster()
	defrag.Status.Defragmentation = &etcdv1.DefragmentationStatus{Trigger: etcdv1.DefragTriggerRequest, Pending: []string{"db-2", "db-0"}}
	paused := withProgress("True")
	paused.Annotations = map[string]string{etcdv1.AnnotationPaused: "true"}
	for _, tc := range []struct {
		name string
		c    *etcdv1.EtcdCluster
		want string
	}{
		{"idle", healthyCluster(), "none"},
		{"paused wins", paused, "paused (etcd.quorum.dev/paused=true): the operator changes nothing until `kubectl quorum resume db`"},
		{"progressing", withProgress("True"), "Scaling: adding db-3"},
		{"not progressing", withProgress("False"), "none"},
		{"tls migration", tls, "TLS migration, phase " + string(etcdv1.TLSMigrationListenHTTPS)},
		{"CA rotation", caRot, "CA rotation (requested), phase IssueFromNew"},
		{"finished restore", restoreDone, "none"},
		{"undoing a failed restore", undoing, "undoing the failed in-place restore r2: snapshot not found"},
		{"failed restore undone", rolledBack, "none"},
		{"defragmentation", defrag, "defragmentation (Request), pending db-2,db-0"},
	} {
		if got := Operation(tc.c); got != tc.want {
			t.Errorf("%s: Operation = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestHelpers(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "-"}, {512, "512 B"}, {1536, "1.5 KiB"}, {25 << 20, "25.0 MiB"}, {3 << 30, "3.0 GiB"}} {
		if got := bytesOrDash(tc.n); got != tc.want {
			t.Errorf("bytesOrDash(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{30 * time.Second, "30s"}, {5 * time.Minute, "5m"}, {47 * time.Hour, "47h"}, {72 * time.Hour, "3d"}, {-72 * time.Hour, "-3d"}} {
		if got := humanDuration(tc.d); got != tc.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
