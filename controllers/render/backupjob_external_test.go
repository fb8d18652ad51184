package render

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// A backup of an external etcd (spec.external) runs from the default image
// against the given endpoints, with its TLS Secret mounted whole, the user
// from the auth Secret's username key and its password as a file; its key
// has "external" where a cluster's name goes; its Job selects no cluster.
func TestBackupJobExternal(t *testing.T) {
	eps := []etcdv1.EtcdEndpoint{"https://etcd-0.etcd-headless.old.svc:2379", "https://etcd-1.etcd-headless.old.svc:2379"}
	for _, tc := range []struct {
		name                 string
		ext                  etcdv1.ExternalEtcd
		wantArgs, wantMounts []string
		noArgs               []string
		wantUser             bool
	}{
		{"TLS and auth", etcdv1.ExternalEtcd{Endpoints: eps, TLS: &etcdv1.ExternalEtcdTLS{SecretName: "old-tls"}, Auth: &etcdv1.ExternalEtcdAuth{SecretName: "old-root"}},
			[]string{"--endpoints=" + string(eps[0]) + "," + string(eps[1]), "--tls-dir=" + externalTLSDir, "--password-file=" + externalAuthDir + "/password",
				"--key=etcd/prod/external/nightly-20261125T030405Z.db.zst"},
			[]string{externalTLSDir, externalAuthDir}, []string{"--user=root"}, true},
		{"plain http, no auth", etcdv1.ExternalEtcd{Endpoints: []etcdv1.EtcdEndpoint{"http://198.18.0.7:2379"}},
			[]string{"--endpoints=http://198.18.0.7:2379"}, nil, []string{"--tls-dir=" + externalTLSDir, "--password-file=" + externalAuthDir + "/password"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := backup(func(b *etcdv1.EtcdBackup) { b.Spec.ClusterName, b.Spec.External = "", tc.ext.DeepCopy() })
			j := BackupJob(b, nil, opts)
			ctr := j.Spec.Template.Spec.Containers[0]
			for _, a := range append(tc.wantArgs, "--source=external "+tc.ext.EndpointList()) {
				if !slices.Contains(ctr.Args, a) {
					t.Errorf("args %q lack %q", ctr.Args, a)
				}
			}
			for _, a := range tc.noArgs {
				if slices.Contains(ctr.Args, a) {
					t.Errorf("args %q have %q", ctr.Args, a)
				}
			}
			mounts := map[string]string{}
			for _, m := range ctr.VolumeMounts {
				mounts[m.MountPath] = m.Name
			}
			for _, m := range tc.wantMounts {
				if mounts[m] == "" {
					t.Errorf("no mount at %s: %v", m, mounts)
				}
			}
			for _, v := range j.Spec.Template.Spec.Volumes {
				if v.Name == "external-tls" && (v.Secret.SecretName != "old-tls" || v.Secret.Items != nil) {
					t.Errorf("TLS Secret volume %+v: the whole Secret (tls.crt and tls.key are optional)", v.Secret)
				}
				if v.Name == "external-auth" && (v.Secret.SecretName != "old-root" || len(v.Secret.Items) != 1 || v.Secret.Items[0].Key != etcdv1.ExternalAuthPasswordKey) {
					t.Errorf("auth Secret volume %+v", v.Secret)
				}
			}
			user := slices.IndexFunc(ctr.Env, func(e corev1.EnvVar) bool { return e.Name == "QUORUM_ETCD_USER" })
			if (user >= 0) != tc.wantUser {
				t.Fatalf("env %+v: user from the auth Secret %v, want %v", ctr.Env, user >= 0, tc.wantUser)
			}
			if user >= 0 {
				if ref := ctr.Env[user].ValueFrom.SecretKeyRef; ref.Name != "old-root" || ref.Key != etcdv1.ExternalAuthUsernameKey {
					t.Errorf("user from %+v", ref)
				}
			}
			if ctr.Image != "quorum.dev/etcd-server:"+DefaultVersion {
				t.Errorf("image %s, want the default one", ctr.Image)
			}
			if _, ok := j.Labels[etcdv1.LabelInstance]; ok || j.Labels[labelBackupName] != "nightly" {
				t.Errorf("labels %v: no cluster instance, the backup's name", j.Labels)
			}
			if !strings.HasPrefix(BackupKey(b), "etcd/prod/external/") {
				t.Errorf("key %s", BackupKey(b))
			}
		})
	}
	// A cluster's backup records the cluster as its source.
	if args := BackupJob(backup(nil), cluster(nil), opts).Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--source=EtcdCluster prod/db") {
		t.Errorf("args %q lack the cluster as source", args)
	}
}
