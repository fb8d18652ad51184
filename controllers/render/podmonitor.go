package render

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// PodMonitorGVK is the Prometheus Operator's PodMonitor kind.
var PodMonitorGVK = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "PodMonitor"}

// PodMonitor scrapes every member's metrics port. It is unstructured so
// that the operator does not depend on the Prometheus Operator's types.
func PodMonitor(c *etcdv1.EtcdCluster) *unstructured.Unstructured {
	labels := map[string]any{}
	for k, v := range c.Spec.Monitoring.Labels {
		labels[k] = v
	}
	for k, v := range c.Labels() {
		labels[k] = v
	}
	endpoint := map[string]any{"port": "metrics", "path": "/metrics", "scheme": "http"}
	if c.Spec.Monitoring.Interval != "" {
		endpoint["interval"] = c.Spec.Monitoring.Interval
	}
	selector := map[string]any{}
	for k, v := range c.SelectorLabels() {
		selector[k] = v
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": c.Name, "namespace": c.Namespace, "labels": labels},
		"spec": map[string]any{
			"selector":            map[string]any{"matchLabels": selector},
			"podMetricsEndpoints": []any{endpoint},
		},
	}}
	u.SetGroupVersionKind(PodMonitorGVK)
	return u
}
