package render

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/membership"
)

// PodDisruptionBudget allows voluntary disruptions only while a quorum of
// the desired members stays up: one at a time for 3 or 4 members, two for 5.
// A single-member cluster allows none.
func PodDisruptionBudget(c *etcdv1.EtcdCluster) *policyv1.PodDisruptionBudget {
	n := c.DesiredReplicas()
	maxUnavailable := intstr.FromInt32(n - int32(membership.Quorum(int(n))))
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: objectMeta(c, c.PDBName(), "etcd"),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: &maxUnavailable,
			Selector:       &metav1.LabelSelector{MatchLabels: c.SelectorLabels()},
		},
	}
}
