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
// Each series gets the label etcd_cluster (the cluster's name, from the
// pod's app.kubernetes.io/instance label) besides the namespace and pod
// Prometheus adds: the alert rules and the dashboard select by
// namespace and etcd_cluster, as the operator's own metrics are labelled.
func PodMonitor(c *etcdv1.EtcdCluster) *unstructured.Unstructured {
	labels := map[string]any{}
	for k, v := range c.Spec.Monitoring.Labels {
		labels[k] = v
	}
	for k, v := range c.Labels() {
		labels[k] = v
	}
	endpoint := map[string]any{"port": "metrics", "path": "/metrics", "scheme": "http",
		"relabelings": []any{map[string]any{
			"sourceLabels": []any{"__meta_kubernetes_pod_label_" + promLabelName(etcdv1.LabelInstance)},
			"targetLabel":  EtcdClusterLabel,
			"action":       "replace",
		}}}
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

// EtcdClusterLabel is the label the PodMonitor gives etcd's series: the
// EtcdCluster's name (internal/opmetrics labels the operator's the same).
const EtcdClusterLabel = "etcd_cluster"

// promLabelName is a Kubernetes label key as Prometheus' service discovery
// spells it in __meta_kubernetes_pod_label_<name>: every character that is
// not a letter, digit or underscore becomes an underscore.
func promLabelName(k string) string {
	b := []byte(k)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
