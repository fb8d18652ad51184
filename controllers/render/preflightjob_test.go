package render

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/contract"
)

func TestPreflightJob(t *testing.T) {
	c := cluster(func(c *etcdv1.EtcdCluster) {
		c.Spec.Version = "3.7.99"
		c.Spec.EtcdOptions = map[string]string{"snapshot-count": "lots"}
		c.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("20Mi")}
		c.Spec.PodTemplate.Labels = map[string]string{"team": "a"}
		c.Spec.PodTemplate.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
	})
	job := PreflightJob(c, opts, "7b9c5d", c.MemberName(2), "node-a")
	pod := job.Spec.Template
	ctr := pod.Spec.Containers[0]

	if job.Name != c.PreflightJobName("7b9c5d") || job.Labels[LabelPreflightRevision] != "7b9c5d" || job.Labels[etcdv1.LabelManagedBy] != etcdv1.ManagedByValue {
		t.Errorf("name %s labels %v", job.Name, job.Labels)
	}
	if labels.SelectorFromSet(c.SelectorLabels()).Matches(labels.Set(pod.Labels)) {
		t.Errorf("the preflight pod %v would be taken for a member", pod.Labels)
	}
	if ctr.Image != "quorum.dev/etcd-server:3.7.99" || strings.Join(ctr.Args, " ") != "preflight" {
		t.Errorf("image %s args %v, want the new spec's image running preflight", ctr.Image, ctr.Args)
	}
	if got := pod.Annotations[AnnotationPreflightOptions]; got != EtcdOptions(c) || !strings.Contains(got, `snapshot-count: "lots"`) {
		t.Errorf("options annotation %q, want the new spec's file", got)
	}
	if len(ctr.Resources.Limits) != 0 || len(ctr.Resources.Requests) != 0 {
		t.Errorf("resources %+v: the check needs none of the member's", ctr.Resources)
	}
	if ctr.TerminationMessagePolicy != corev1.TerminationMessageReadFile || *job.Spec.BackoffLimit != 0 || pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Error("the check must run once and leave its report in the termination message")
	}
	for _, e := range ctr.Env {
		if e.Name == contract.EnvPodName && (e.Value != c.MemberName(2) || e.ValueFrom != nil) {
			t.Errorf("POD_NAME %+v, want the member checked for", e)
		}
	}
	terms := pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || terms[0].MatchFields[0].Values[0] != "node-a" || len(pod.Spec.Tolerations) != 1 {
		t.Errorf("affinity %+v tolerations %+v: want the member's node and tolerations", terms, pod.Spec.Tolerations)
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name == dataVolume && v.EmptyDir == nil {
			t.Errorf("data volume %+v: the check reads no member data", v)
		}
		if v.ConfigMap != nil {
			t.Errorf("volume %s mounts the ConfigMap, which the kubelet may not have refreshed yet", v.Name)
		}
	}

	long := cluster(func(c *etcdv1.EtcdCluster) { c.Name = strings.Repeat("x", 48) })
	if n := long.PreflightJobName("5d8f7c9b44"); len(n) > 63 || !strings.HasSuffix(n, "-preflight-5d8f7c9b44") {
		t.Errorf("name %q: want a DNS label ending with the hash", n)
	}
	if PreflightJob(c, opts, "h", c.MemberName(0), "").Spec.Template.Spec.Affinity != c.Spec.PodTemplate.Affinity {
		t.Error("node unknown: the template's own affinity applies")
	}
}
