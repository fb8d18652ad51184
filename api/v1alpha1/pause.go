package v1alpha1

// AnnotationPaused stops the operator from reconciling one cluster while
// it is "true" (any other value, or none, reconciles as usual):
//   - nothing the operator owns is created, changed or deleted (StatefulSet,
//     Services, ConfigMaps, Secrets, PDB, NetworkPolicy, PodMonitor), no
//     membership change, rollout, restore step, TLS migration step,
//     authentication change or maintenance (compaction, defragmentation,
//     alarm disarm) is made, and etcd is not contacted;
//   - status is frozen as last written, except the Paused condition (True,
//     reason Paused) and Ready (False, reason Paused);
//     observedGeneration stays behind a spec changed meanwhile, which
//     shows that the change waits;
//   - deleting the cluster still works: its finalizer is carried out.
//
// Removing the annotation (or setting it to anything but "true") resumes:
// the next pass picks up every change made meanwhile. Pausing is for a
// human investigating or repairing a cluster by hand; the cluster keeps
// running, but a member that fails is not replaced while paused.
const AnnotationPaused = "etcd.quorum.dev/paused"

// Paused reports whether the cluster carries AnnotationPaused="true".
func (c *EtcdCluster) Paused() bool {
	return c.Annotations[AnnotationPaused] == "true"
}
