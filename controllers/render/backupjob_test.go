package render

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func backup(mut func(*etcdv1.EtcdBackup)) *etcdv1.EtcdBackup {
	b := &etcdv1.EtcdBackup{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "prod", CreationTimestamp: metav1.NewTime(time.Date(2026, 11, 25, 3, 4, 5, 0, time.UTC))},
		Spec: etcdv1.EtcdBackupSpec{ClusterName: "db", Destination: etcdv1.BackupLocation{S3: &etcdv1.S3Location{
			Endpoint: "s3.example:9000", Bucket: "backups", Prefix: "etcd/", CredentialsSecretName: "s3-creds"}}},
	}
	if mut != nil {
		mut(b)
	}
	return b
}

func TestBackupKeyAndJobName(t *testing.T) {
	for _, tc := range []struct {
		mut  func(*etcdv1.EtcdBackup)
		want string
	}{
		{nil, "etcd/prod/db/nightly-20261125T030405Z.db.zst"},
		{func(b *etcdv1.EtcdBackup) { b.Spec.Compression = "zstd" }, "etcd/prod/db/nightly-20261125T030405Z.db.zst"},
		{func(b *etcdv1.EtcdBackup) { b.Spec.Compression = "gzip" }, "etcd/prod/db/nightly-20261125T030405Z.db.gz"},
		{func(b *etcdv1.EtcdBackup) { b.Spec.Compression = "none" }, "etcd/prod/db/nightly-20261125T030405Z.db"},
		{func(b *etcdv1.EtcdBackup) {
			b.Spec.Compression, b.Spec.EncryptionKey = "none", &corev1.SecretKeySelector{Key: "k"}
		}, "etcd/prod/db/nightly-20261125T030405Z.db.enc"},
		{func(b *etcdv1.EtcdBackup) { b.Spec.EncryptionKey = &corev1.SecretKeySelector{Key: "k"} }, "etcd/prod/db/nightly-20261125T030405Z.db.zst.enc"},
		{func(b *etcdv1.EtcdBackup) {
			b.Spec.Compression, b.Spec.EncryptionKey = "gzip", &corev1.SecretKeySelector{Key: "k"}
		}, "etcd/prod/db/nightly-20261125T030405Z.db.gz.enc"},
	} {
		if got := BackupKey(backup(tc.mut)); got != tc.want {
			t.Errorf("key %q, want %q", got, tc.want)
		}
	}
	// A backup started under an old key keeps it.
	old := backup(func(b *etcdv1.EtcdBackup) { b.Status.Key = "etcd/prod/db/nightly-20261125T030405Z.db" })
	if args := strings.Join(BackupJob(old, cluster(nil), opts).Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(args, "--key=etcd/prod/db/nightly-20261125T030405Z.db ") {
		t.Errorf("job of a backup with an old key in its status: %s", args)
	}
	long := backup(func(b *etcdv1.EtcdBackup) { b.Name = strings.Repeat("a", 70) })
	if n := BackupJobName(long); len(n) > 63 || !strings.HasSuffix(n, "-backup") {
		t.Errorf("job name %q", n)
	}
}

func TestBackupJob(t *testing.T) {
	cases := []struct {
		name       string
		b          func(*etcdv1.EtcdBackup)
		c          func(*etcdv1.EtcdCluster)
		wantArgs   []string
		wantMounts []string
		wantEnv    []string
	}{
		{"s3 with TLS cluster", nil, nil,
			[]string{"backup", "--endpoints=https://db-0.db-peer.prod.svc.example.local:2379,https://db-1.db-peer.prod.svc.example.local:2379,https://db-2.db-peer.prod.svc.example.local:2379",
				"--key=etcd/prod/db/nightly-20261125T030405Z.db.zst", "--compress=zstd", "--tls-dir=" + ClientTLSDir, "--s3-endpoint=s3.example:9000", "--bucket=backups"},
			[]string{ClientTLSDir}, []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}},
		{"insecure s3, CA, encryption, no compression", func(b *etcdv1.EtcdBackup) {
			b.Spec.Destination.S3.Insecure = true
			b.Spec.Destination.S3.CA = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}, Key: "bundle.pem"}
			b.Spec.EncryptionKey = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "k"}, Key: "key"}
			b.Spec.Compression = "none"
		}, nil, []string{"--s3-insecure", "--s3-ca-file=" + s3CADir + "/ca.crt", "--encryption-key-file=" + encryptionKeyDir + "/key", "--compress=none"},
			[]string{s3CADir, encryptionKeyDir}, nil},
		{"pvc destination, plain cluster with auth", func(b *etcdv1.EtcdBackup) {
			b.Spec.Destination = etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "backups", Prefix: "x"}}
		}, func(c *etcdv1.EtcdCluster) { c.Spec.TLS.Enabled = ptr.To(false) },
			[]string{"--dir=" + backupDir, "--user=root", "--password-file=" + rootPasswordDir + "/password", "--key=x/prod/db/nightly-20261125T030405Z.db.zst"},
			[]string{backupDir, rootPasswordDir}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := BackupJob(backup(tc.b), cluster(tc.c), opts)
			ctr := j.Spec.Template.Spec.Containers[0]
			args := strings.Join(ctr.Args, " ")
			for _, a := range tc.wantArgs {
				if !strings.Contains(" "+args+" ", " "+a+" ") {
					t.Errorf("args %q lack %q", args, a)
				}
			}
			mounts := map[string]bool{}
			for _, m := range ctr.VolumeMounts {
				mounts[m.MountPath] = true
			}
			for _, m := range tc.wantMounts {
				if !mounts[m] {
					t.Errorf("no mount at %s: %v", m, mounts)
				}
			}
			for i, e := range tc.wantEnv {
				if ctr.Env[i].Name != e || ctr.Env[i].ValueFrom.SecretKeyRef.Name != "s3-creds" {
					t.Errorf("env %d: %+v", i, ctr.Env[i])
				}
			}
			if *j.Spec.BackoffLimit != 0 || j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Error("a failed backup must be reported, not retried")
			}
			if ctr.Image != "quorum.dev/etcd-server:3.7.3" || !*ctr.SecurityContext.ReadOnlyRootFilesystem || !*j.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
				t.Error("image or security context")
			}
			if j.Labels["etcd.quorum.dev/backup"] != "nightly" || j.Labels[etcdv1.LabelManagedBy] != "quorum" {
				t.Errorf("labels %v", j.Labels)
			}
		})
	}
}
