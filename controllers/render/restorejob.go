package render

import (
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

const (
	labelRestoreName   = "etcd.quorum.dev/restore"
	verifyJobSuffix    = "-verify"
	restoreObjectLabel = "restore"
)

// VerifyJobName is the Job that checks an EtcdRestore's snapshot.
func VerifyJobName(r *etcdv1.EtcdRestore) string {
	n := r.Name
	if max := 63 - len(verifyJobSuffix); len(n) > max {
		n = n[:max]
	}
	return strings.TrimRight(n, "-.") + verifyJobSuffix
}

// VerifyJob runs `quorum-etcd restore --verify-only` from the cluster's
// own server image: it reads the whole snapshot, checks manifest, version,
// key, size, checksum and etcd's appended hash (a snapshot without
// manifest through a copy in the Job's /tmp emptyDir), and writes nothing
// else. The cluster is only stopped
// for an in-place restore once this Job has succeeded.
func VerifyJob(r *etcdv1.EtcdRestore, c *etcdv1.EtcdCluster, src *RestoreSource, o Options) *batchv1.Job {
	st := storeAccess{
		vols:   []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		mounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
	}
	st.addStore(src.Location, src.EncryptionKey)
	args := append(append([]string{"restore", "--verify-only", "--key=" + src.Key}, src.hashArgs()...), st.args...)

	labels := jobLabels(c, restoreObjectLabel)
	labels[labelRestoreName] = r.Name
	meta := metav1.ObjectMeta{Name: VerifyJobName(r), Namespace: r.Namespace, Labels: labels}
	return toolJob(meta, 3600, "verify", o.Image(c), st.env, st, args)
}
