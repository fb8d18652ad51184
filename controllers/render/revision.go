package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// ComponentOptions is the app.kubernetes.io/component of options ConfigMaps.
const ComponentOptions = "options"

// Revision is what a member pod runs that its preflight check judges: the
// server image and the etcd options file, with the ConfigMap holding that
// file. A change to either waits for its check before any member can read
// it; other pod template changes (resources, scheduling) are not checked
// and roll out as they are.
type Revision struct {
	Image string
	// ConfigHash is Hash of the options file, the pod template's
	// AnnotationConfigHash.
	ConfigHash string
	// OptionsConfigMap names the ConfigMap whose ConfigKeyOptions the
	// members mount: EtcdCluster.OptionsConfigMapName(ConfigHash), or the
	// cluster ConfigMap for members made by an earlier operator version.
	OptionsConfigMap string
}

// DesiredRevision is the revision of the cluster's spec; configHash is the
// digest of its options file (Hash of EtcdOptions, with jwt tokens also
// of the signing key, see the reconciler's configHash).
func DesiredRevision(c *etcdv1.EtcdCluster, o Options, configHash string) Revision {
	return Revision{Image: o.Image(c), ConfigHash: configHash, OptionsConfigMap: c.OptionsConfigMapName(configHash)}
}

// Key identifies the image and options of r (not where the options are
// kept): 16 hex digits, the suffix of its preflight Job's name.
func (r Revision) Key() string { return Hash(r.Image + "\n" + r.ConfigHash) }

// Same reports whether r and other run the same image with the same options.
func (r Revision) Same(other Revision) bool {
	return r.Image == other.Image && r.ConfigHash == other.ConfigHash
}

// RevisionOf reads the revision a member pod (or a pod template) runs: the
// image of its etcd container, its config-hash annotation and the ConfigMap
// of its config volume. ok is false when any of them is missing.
func RevisionOf(meta metav1.ObjectMeta, spec corev1.PodSpec) (Revision, bool) {
	r := Revision{ConfigHash: meta.Annotations[AnnotationConfigHash]}
	for _, ctr := range spec.Containers {
		if ctr.Name == ContainerName {
			r.Image = ctr.Image
		}
	}
	for _, v := range spec.Volumes {
		if v.Name == configVolume && v.ConfigMap != nil {
			r.OptionsConfigMap = v.ConfigMap.Name
		}
	}
	return r, r.Image != "" && r.ConfigHash != "" && r.OptionsConfigMap != ""
}

// OptionsConfigMap holds the options file of the spec under a name of its
// own, EtcdCluster.OptionsConfigMapName of configHash (as in
// DesiredRevision): it never changes, and the operator creates it only
// once its revision may be written to the members' template.
func OptionsConfigMap(c *etcdv1.EtcdCluster, configHash string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: objectMeta(c, c.OptionsConfigMapName(configHash), ComponentOptions),
		Data:       map[string]string{ConfigKeyOptions: EtcdOptions(c)},
	}
}
