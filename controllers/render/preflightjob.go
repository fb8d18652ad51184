package render

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/contract"
)

// Labels and annotations of preflight Jobs.
const (
	// LabelPreflightRevision is the key (Revision.Key) of the image and
	// options a preflight Job checks.
	LabelPreflightRevision = "etcd.quorum.dev/preflight-revision"
	// AnnotationPreflightOptions carries, on the preflight pod, the etcd
	// options file of the new spec; a downward API volume mounts it where
	// a member mounts its ConfigMap key.
	AnnotationPreflightOptions = "etcd.quorum.dev/etcd-options"
	// ComponentPreflight is the app.kubernetes.io/component of preflight Jobs.
	ComponentPreflight = "preflight"
	// preflightDeadlineSeconds bounds a preflight Job, an image that does
	// not pull included.
	preflightDeadlineSeconds = 600
)

// PreflightJob runs `quorum-etcd preflight` as member would run `serve`
// with the cluster's current spec: the same image, environment (POD_NAME
// set to member), TLS Secrets and options file, on node when it is known
// (the node of the member to be restarted first, so that the image is
// pulled where it will run). It loads the configuration, has etcd
// validate it, and exits 0 or 1 with etcd's message as its termination
// message (see contract.PreflightReport). It reads no member data: the
// data directory is an empty scratch volume, and the pod asks for no
// resources of the member's, so a memory limit too small for etcd is
// not caught here.
//
// The options file is the new spec's, carried in a pod annotation and
// mounted through the downward API: no ConfigMap holds options that have
// not passed their check (see OptionsConfigMap). hash is the
// key of the desired revision (Revision.Key of DesiredRevision), whose image
// and options are checked; the Job is named
// after it (EtcdCluster.PreflightJobName), so it runs once per change.
func PreflightJob(c *etcdv1.EtcdCluster, o Options, hash, member, node string) *batchv1.Job {
	member0 := container(c, o, o.Image(c))
	env := make([]corev1.EnvVar, 0, len(member0.Env))
	for _, e := range member0.Env {
		if e.Name == contract.EnvPodName {
			e = corev1.EnvVar{Name: contract.EnvPodName, Value: member}
		}
		env = append(env, e)
	}
	st := storeAccess{}
	for _, v := range volumes(c, "") {
		switch v.Name {
		case configVolume:
			v.VolumeSource = corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{{
				Path:     ConfigKeyOptions,
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + AnnotationPreflightOptions + "']"},
			}}}}
		case dataVolume:
			continue
		}
		st.vols = append(st.vols, v)
	}
	st.vols = append(st.vols, corev1.Volume{Name: dataVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	st.mounts = member0.VolumeMounts

	labels := jobLabels(c, ComponentPreflight)
	labels[LabelPreflightRevision] = hash
	meta := metav1.ObjectMeta{Name: c.PreflightJobName(hash), Namespace: c.Namespace, Labels: labels}
	job := toolJob(meta, preflightDeadlineSeconds, "preflight", member0.Image, env, st, []string{"preflight"})
	pod := &job.Spec.Template
	pod.Annotations = map[string]string{AnnotationPreflightOptions: EtcdOptions(c)}
	pt := c.Spec.PodTemplate
	pod.Spec.Tolerations = pt.Tolerations
	pod.Spec.PriorityClassName = pt.PriorityClassName
	if node != "" {
		pod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}},
		}}
	} else {
		pod.Spec.Affinity, pod.Spec.NodeSelector = pt.Affinity, pt.NodeSelector
	}
	return job
}
