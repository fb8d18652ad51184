package render

import (
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// The operator's default etcd server image: the default of its
// --etcd-image-repository flag and of an EtcdCluster's spec.version.
const (
	DefaultImageRepository = "quorum.dev/etcd-server"
	DefaultVersion         = "3.7.3"
)

const (
	pruneJobSuffix   = "-prune"
	maxPruneJobName  = 63 - len(pruneJobSuffix)
	pruneObjectLabel = "prune"
)

// DefaultImage is the server image of the default version, for work that
// outlives its cluster.
func (o Options) DefaultImage() string {
	return o.ImageRepository + ":" + DefaultVersion + o.ImageTagSuffix
}

// PruneJobName is the Job that removes a backup's files from its claim.
func PruneJobName(b *etcdv1.EtcdBackup) string {
	n := b.Name
	if len(n) > maxPruneJobName {
		n = n[:maxPruneJobName]
	}
	return strings.TrimRight(n, "-.") + pruneJobSuffix
}

// PruneJob runs `quorum-etcd prune` on the claim of a PVC backup, or on
// the bucket of an S3 backup whose credentials are not a Secret the
// operator reads (webIdentity, instanceRole: only the Job's pod has them):
// the manifest is removed first, then the snapshot. c, the backup's cluster,
// chooses the image; nil (the cluster is gone) takes the default one. The
// pod labels do not select it as a member of the cluster.
func PruneJob(b *etcdv1.EtcdBackup, c *etcdv1.EtcdCluster, o Options) *batchv1.Job {
	image := o.DefaultImage()
	if c != nil {
		image = o.Image(c)
	}
	labels := map[string]string{
		etcdv1.LabelManagedBy: etcdv1.ManagedByValue,
		etcdv1.LabelComponent: pruneObjectLabel,
		labelBackupName:       b.Name,
	}
	if b.Spec.ClusterName != "" { // not an external source
		labels[etcdv1.LabelInstance] = b.Spec.ClusterName
	}
	if s, ok := b.Labels[etcdv1.LabelBackupSchedule]; ok {
		labels[etcdv1.LabelBackupSchedule] = s
	}
	st := storeAccess{}
	st.addStore(b.Spec.Destination, nil)
	args := append([]string{"prune"}, st.args...)
	args = append(args, "--key="+or(b.Status.Key, BackupKey(b)))
	// The schedule reports a failure and retries with a new Job.
	meta := metav1.ObjectMeta{Name: PruneJobName(b), Namespace: b.Namespace, Labels: labels}
	return toolJob(meta, 600, "prune", image, st.env, st, args)
}
