package render

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// toolJob is a one-shot Job running one quorum-etcd command from image:
// never retried (the owner reports a failure and decides), bounded by
// deadline, non-root with no API server token (st.serviceAccount, when
// set, only names the identity a projected S3 token is issued for), its
// report left in the termination message.
func toolJob(meta metav1.ObjectMeta, deadlineSeconds int64, name, image string, env []corev1.EnvVar, st storeAccess, args []string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To[int32](0),
			ActiveDeadlineSeconds: ptr.To(deadlineSeconds),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: meta.Labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					ServiceAccountName:           st.serviceAccount,
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext:              podSecurity(),
					Volumes:                      st.vols,
					Containers: []corev1.Container{{
						Name:                     name,
						Image:                    image,
						ImagePullPolicy:          corev1.PullIfNotPresent,
						Command:                  []string{"/usr/local/bin/quorum-etcd"},
						Args:                     args,
						Env:                      env,
						VolumeMounts:             st.mounts,
						TerminationMessagePolicy: corev1.TerminationMessageReadFile,
						SecurityContext:          containerSecurity(),
					}},
				},
			},
		},
	}
}
