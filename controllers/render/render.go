// Package render turns an EtcdCluster into the Kubernetes objects that run
// it. Every function here is pure: no client, no logger, no clock. The
// reconciler applies the results with server-side apply.
package render

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Options are the operator-wide settings the renderers need.
type Options struct {
	// ImageRepository of the bundled etcd server image; the tag is
	// spec.version.
	ImageRepository string
	// ClusterDomain is the cluster's DNS suffix.
	ClusterDomain string
	// ImageTagSuffix follows the etcd version in the server image's tag
	// (version.ServerTagSuffix in the operator, "-quorum.<release>");
	// empty in tests that pin plain tags.
	ImageTagSuffix string
}

// Image is the etcd server image of the cluster:
// "<ImageRepository>:<spec.version><ImageTagSuffix>".
func (o Options) Image(c *etcdv1.EtcdCluster) string {
	return o.ImageRepository + ":" + c.Spec.Version + o.ImageTagSuffix
}

// Domain is ClusterDomain with its default.
func (o Options) Domain() string {
	if o.ClusterDomain == "" {
		return etcdv1.DefaultClusterDomain
	}
	return o.ClusterDomain
}

func objectMeta(c *etcdv1.EtcdCluster, name, component string) metav1.ObjectMeta {
	l := c.Labels()
	l[etcdv1.LabelComponent] = component
	return metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: l}
}
