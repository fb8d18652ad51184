package render

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/contract"
)

// RestoreSource is a resolved spec.bootstrap.restore or EtcdRestore:
// where the snapshot is.
type RestoreSource struct {
	Location      etcdv1.BackupLocation
	Key           string
	EncryptionKey *corev1.SecretKeySelector
	// SkipHashCheck passes --skip-hash-check: a raw snapshot without
	// etcd's appended hash is accepted.
	SkipHashCheck bool
	// ExpectSHA256, when set, passes --expect-sha256: the SHA-256 of the
	// raw snapshot verified before members were stopped (EtcdRestore
	// status.sha256). A member finding another snapshot at the key (the
	// object replaced after verification) refuses it, and the restore is
	// undone, rather than members restoring different data.
	ExpectSHA256 string
	// SessionToken, when set, passes AWS_SESSION_TOKEN from the S3
	// credentials Secret to the members' restore init container (Jobs
	// always pass it, optional). The EtcdCluster reconciler sets it when
	// the Secret holds one, so that the templates of clusters restored
	// with long-lived keys do not change.
	SessionToken bool
	// InPlaceID, when set, makes the init container an in-place restore
	// (an EtcdRestore's RestoreID): it replaces the data dir of a running
	// cluster's member once, while the cluster ConfigMap names this ID as
	// the active restore, under a new cluster token.
	InPlaceID string
}

// Paths and names of an in-place restore.
const (
	// KeptDataDir holds a member's data dir from before an in-place
	// restore, until the next one.
	KeptDataDir = DataMountPath + "/data.before-restore"
	// AnnotationRestoreID on member pods names the in-place restore their
	// template carries.
	AnnotationRestoreID = "etcd.quorum.dev/restore-id"
	// AnnotationRestoreUndone on member pods names the failed in-place
	// restore their template undoes (UndoneRestoreID).
	AnnotationRestoreUndone = "etcd.quorum.dev/restore-undone"
	// UndoContainerName is the init container that undoes a failed
	// in-place restore.
	UndoContainerName = "restore-undo"
)

// UndoneRestoreID is the in-place restore whose failure the members'
// template undoes (status.restore.failure is set), or "". The undo init
// container stays in the template until the next restore replaces
// status.restore: it is a no-op once a member's data dir is back.
func UndoneRestoreID(c *etcdv1.EtcdCluster) string {
	if st := c.Status.Restore; st != nil && st.Failure != "" {
		return st.RestoreID
	}
	return ""
}

// undoInitContainer puts back, before etcd starts, the data dir that the
// failed in-place restore id replaced (`quorum-etcd restore --undo`): once
// per member, since the kept data dir carries no marker of that restore.
func undoInitContainer(c *etcdv1.EtcdCluster, o Options, image, id string) corev1.Container {
	return corev1.Container{
		Name:                     UndoContainerName,
		Image:                    image,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		Command:                  []string{"/usr/local/bin/quorum-etcd"},
		Args:                     []string{"restore", "--undo", "--restore-id=" + id, "--keep-replaced=" + KeptDataDir},
		Env:                      memberEnv(c, o),
		VolumeMounts:             []corev1.VolumeMount{{Name: dataVolume, MountPath: DataMountPath}},
		Resources:                c.Spec.Resources,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		SecurityContext:          containerSecurity(),
	}
}

// RestoreToken is the initial cluster token of a cluster restored in
// place: a new token gives the restored cluster a new cluster ID, so that
// a member still holding the old data can never rejoin it.
func RestoreToken(c *etcdv1.EtcdCluster, id string) string {
	return fmt.Sprintf("%s-%s-%s", c.Name, c.UID, id)
}

// restoreInitContainer restores the member's data dir from the snapshot
// before etcd starts, only while the cluster is new (members that join
// later get their data from the cluster). Re-running it on its own result
// is a no-op, so pod restarts are safe.
//
// The volumes and service account the container needs are returned too:
// a webIdentity or instanceRole source makes the member pods run as its
// service account while the template restores.
func restoreInitContainer(c *etcdv1.EtcdCluster, o Options, image string, r *RestoreSource) (corev1.Container, []corev1.Volume, string) {
	st := storeAccess{noSessionToken: !r.SessionToken}
	st.addStore(r.Location, r.EncryptionKey)
	args := []string{"restore", "--only-new-cluster", "--key=" + r.Key}
	env := memberEnv(c, o)
	if r.InPlaceID != "" {
		args = []string{"restore", "--only-active-restore", "--force", "--key=" + r.Key,
			"--restore-id=" + r.InPlaceID, "--keep-replaced=" + KeptDataDir,
			"--initial-cluster-token=" + RestoreToken(c, r.InPlaceID)}
		env = append(env, corev1.EnvVar{Name: contract.EnvActiveRestoreID, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: c.ConfigMapName()}, Key: ConfigKeyRestoreID, Optional: ptr.To(true)}}})
	}
	args = append(args, r.hashArgs()...)
	args = append(args, st.args...)
	env = append(env, st.env...)
	mounts := append([]corev1.VolumeMount{
		{Name: dataVolume, MountPath: DataMountPath},
		{Name: "tmp", MountPath: "/tmp"},
	}, st.mounts...)
	return corev1.Container{
		Name:                     "restore",
		Image:                    image,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		Command:                  []string{"/usr/local/bin/quorum-etcd"},
		Args:                     args,
		Env:                      env,
		VolumeMounts:             mounts,
		Resources:                c.Spec.Resources,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		SecurityContext:          containerSecurity(),
	}, st.vols, st.serviceAccount
}

// hashArgs are the flags of the hash check.
func (r *RestoreSource) hashArgs() []string {
	var args []string
	if r.SkipHashCheck {
		args = append(args, "--skip-hash-check")
	}
	if r.ExpectSHA256 != "" {
		args = append(args, "--expect-sha256="+r.ExpectSHA256)
	}
	return args
}
