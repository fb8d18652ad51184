package render

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func ports(withPeer bool) []corev1.ServicePort {
	p := []corev1.ServicePort{{Name: "client", Port: etcdv1.ClientPort, TargetPort: intstr.FromString("client"), Protocol: corev1.ProtocolTCP}}
	if withPeer {
		p = append(p, corev1.ServicePort{Name: "peer", Port: etcdv1.PeerPort, TargetPort: intstr.FromString("peer"), Protocol: corev1.ProtocolTCP})
	}
	return p
}

// PeerService is the headless Service that gives every member a stable DNS
// name. It publishes members before they are ready, so that members of a new
// cluster can find each other while none of them is ready yet.
func PeerService(c *etcdv1.EtcdCluster) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: objectMeta(c, c.PeerServiceName(), "peer"),
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 c.SelectorLabels(),
			Ports:                    ports(true),
		},
	}
}

// ClientService is the Service clients use; it routes to ready members only.
func ClientService(c *etcdv1.EtcdCluster) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: objectMeta(c, c.ClientServiceName(), "client"),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: c.SelectorLabels(),
			Ports:    ports(false),
		},
	}
}
