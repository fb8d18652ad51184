package render

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
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

// VerifyJob runs `quorum-etcd restore --verify-only` from image, the
// server image the members run (their StatefulSet's; "" for the cluster's
// own, o.Image(c)), so with the etcd version that will restore and serve
// the snapshot: it does what each member's restore init container will do
// (manifest, version, key, size, checksum, etcd's appended hash, storage
// version, etcd's restore) into scratch space in the Job's /tmp emptyDir,
// and writes nothing else. The cluster is only stopped for an in-place
// restore once this Job has succeeded.
func VerifyJob(r *etcdv1.EtcdRestore, c *etcdv1.EtcdCluster, src *RestoreSource, o Options, image string) *batchv1.Job {
	st := storeAccess{
		vols:   []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		mounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
	}
	st.addStore(src.Location, src.EncryptionKey)
	args := append(append([]string{"restore", "--verify-only", "--key=" + src.Key}, src.hashArgs()...), st.args...)

	labels := jobLabels(c, restoreObjectLabel)
	labels[labelRestoreName] = r.Name
	meta := metav1.ObjectMeta{Name: VerifyJobName(r), Namespace: r.Namespace, Labels: labels}
	if image == "" {
		image = o.Image(c)
	}
	return toolJob(meta, 3600, "verify", image, st.env, st, args)
}

// MemberImage is the image of the etcd container in a member StatefulSet,
// or "" when there is none (nil, or no such container).
func MemberImage(sts *appsv1.StatefulSet) string {
	if sts == nil {
		return ""
	}
	for _, ct := range sts.Spec.Template.Spec.Containers {
		if ct.Name == ContainerName {
			return ct.Image
		}
	}
	return ""
}
