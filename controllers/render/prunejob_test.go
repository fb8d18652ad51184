package render

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func TestPruneJob(t *testing.T) {
	onClaim := func(b *etcdv1.EtcdBackup) {
		b.Spec.Destination = etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "backups", Prefix: "x"}}
		b.Labels = map[string]string{etcdv1.LabelBackupSchedule: "daily"}
	}
	cases := []struct {
		name      string
		b         func(*etcdv1.EtcdBackup)
		c         *etcdv1.EtcdCluster
		wantName  string
		wantImage string
		wantKey   string
	}{
		{"key from the status, cluster image", func(b *etcdv1.EtcdBackup) { onClaim(b); b.Status.Key = "x/prod/db/stored.db" },
			cluster(func(c *etcdv1.EtcdCluster) { c.Spec.Version = "3.6.9" }),
			"nightly-prune", "quorum.dev/etcd-server:3.6.9", "x/prod/db/stored.db"},
		{"key derived, cluster gone", onClaim, nil,
			"nightly-prune", "quorum.dev/etcd-server:" + DefaultVersion, "x/prod/db/nightly-20261125T030405Z.db.zst"},
		{"long name", func(b *etcdv1.EtcdBackup) {
			onClaim(b)
			b.Name = strings.Repeat("a", 56) + "-" + strings.Repeat("b", 10)
		},
			nil, strings.Repeat("a", 56) + "-prune", "quorum.dev/etcd-server:" + DefaultVersion, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := backup(tc.b)
			j := PruneJob(b, tc.c, opts)
			if j.Name != tc.wantName || j.Name != PruneJobName(b) || len(j.Name) > 63 || j.Namespace != "prod" {
				t.Errorf("job %s/%s, want %s", j.Namespace, j.Name, tc.wantName)
			}
			pod := j.Spec.Template.Spec
			ctr := pod.Containers[0]
			if ctr.Image != tc.wantImage {
				t.Errorf("image %q, want %q", ctr.Image, tc.wantImage)
			}
			want := []string{"prune", "--dir=" + backupDir, "--key=" + or(tc.wantKey, BackupKey(b))}
			if !slices.Equal(ctr.Args, want) || ctr.Command[0] != "/usr/local/bin/quorum-etcd" {
				t.Errorf("command %q %q, want args %q", ctr.Command, ctr.Args, want)
			}
			if len(pod.Volumes) != 1 || pod.Volumes[0].PersistentVolumeClaim.ClaimName != "backups" ||
				len(ctr.VolumeMounts) != 1 || ctr.VolumeMounts[0].MountPath != backupDir || ctr.VolumeMounts[0].ReadOnly {
				t.Errorf("claim not mounted writable at %s: %+v %+v", backupDir, pod.Volumes, ctr.VolumeMounts)
			}
			if *j.Spec.BackoffLimit != 0 || pod.RestartPolicy != corev1.RestartPolicyNever || *pod.AutomountServiceAccountToken ||
				!*ctr.SecurityContext.ReadOnlyRootFilesystem || !*pod.SecurityContext.RunAsNonRoot || len(ctr.Env) != 0 ||
				ctr.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
				t.Error("restart policy, service account token, security context, env or termination message")
			}
			for _, l := range []map[string]string{j.Labels, j.Spec.Template.Labels} {
				if l[etcdv1.LabelManagedBy] != "quorum" || l[etcdv1.LabelBackupSchedule] != "daily" || l[labelBackupName] != b.Name {
					t.Errorf("labels %v", l)
				}
				// Not a member: the cluster's Services and PDB select by these.
				if sel := (&etcdv1.EtcdCluster{}).SelectorLabels(); l[etcdv1.LabelName] == sel[etcdv1.LabelName] {
					t.Errorf("labels %v select the prune pod as a member", l)
				}
			}
		})
	}
}

// The default image is the one of a cluster with defaults under the
// operator's default flags.
func TestDefaultImageMatchesDefaults(t *testing.T) {
	for file, pattern := range map[string]string{
		"../../config/crd/bases/etcd.quorum.dev_etcdclusters.yaml": `(?m)^ {14}version:\n {16}default: ` + regexp.QuoteMeta(DefaultVersion) + `\n`,
		"../../main.go": `"etcd-image-repository", "` + regexp.QuoteMeta(DefaultImageRepository) + `"`,
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(pattern).Match(b) {
			t.Errorf("%s does not match %s", file, pattern)
		}
	}
}
