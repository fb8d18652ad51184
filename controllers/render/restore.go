package render

import (
	corev1 "k8s.io/api/core/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// RestoreSource is a resolved spec.bootstrap.restore: where the snapshot is.
type RestoreSource struct {
	Location      etcdv1.BackupLocation
	Key           string
	EncryptionKey *corev1.SecretKeySelector
}

// restoreInitContainer restores the member's data dir from the snapshot
// before etcd starts, only while the cluster is new (members that join
// later get their data from the cluster). Re-running it on its own result
// is a no-op, so pod restarts are safe.
func restoreInitContainer(c *etcdv1.EtcdCluster, o Options, r *RestoreSource) (corev1.Container, []corev1.Volume) {
	st := storeAccess{}
	st.addStore(r.Location, r.EncryptionKey)
	args := append([]string{"restore", "--only-new-cluster", "--key=" + r.Key}, st.args...)
	env := append(memberEnv(c, o), st.env...)
	mounts := append([]corev1.VolumeMount{
		{Name: dataVolume, MountPath: DataMountPath},
		{Name: "tmp", MountPath: "/tmp"},
	}, st.mounts...)
	return corev1.Container{
		Name:                     "restore",
		Image:                    o.Image(c),
		ImagePullPolicy:          corev1.PullIfNotPresent,
		Command:                  []string{"/usr/local/bin/quorum-etcd"},
		Args:                     args,
		Env:                      env,
		VolumeMounts:             mounts,
		Resources:                c.Spec.Resources,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		SecurityContext:          containerSecurity(),
	}, st.vols
}
