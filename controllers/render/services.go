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
// spec.service sets its type (ClusterIP unless asked), annotations, the
// client port's node port, the load balancer's source ranges and the
// external traffic policy; fields that do not apply to the type are left
// out (admission refuses them anyway).
func ClientService(c *etcdv1.EtcdCluster) *corev1.Service {
	s := c.Spec.Service
	svc := &corev1.Service{
		ObjectMeta: objectMeta(c, c.ClientServiceName(), "client"),
		Spec: corev1.ServiceSpec{
			Type:     c.ServiceType(),
			Selector: c.SelectorLabels(),
			Ports:    ports(false),
		},
	}
	if len(s.Annotations) > 0 {
		svc.Annotations = map[string]string{}
		for k, v := range s.Annotations {
			svc.Annotations[k] = v
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeClusterIP {
		return svc
	}
	if s.NodePort != nil {
		svc.Spec.Ports[0].NodePort = *s.NodePort
	}
	svc.Spec.ExternalTrafficPolicy = s.ExternalTrafficPolicy
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		svc.Spec.LoadBalancerSourceRanges = append([]string(nil), s.LoadBalancerSourceRanges...)
	}
	return svc
}

// ServiceStatus is status.service for the client Service as read back from
// the API server: its type, the client port's node port (NodePort and
// LoadBalancer) and the load balancer's ingress IPs and host names, in the
// Service's order. Nothing is inferred: an address appears only once the
// Service's status has it.
func ServiceStatus(svc *corev1.Service) *etcdv1.ServiceStatus {
	st := &etcdv1.ServiceStatus{Type: svc.Spec.Type}
	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, p := range svc.Spec.Ports {
			if p.Name == "client" {
				st.NodePort = p.NodePort
			}
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, in := range svc.Status.LoadBalancer.Ingress {
			switch {
			case in.IP != "":
				st.ExternalAddresses = append(st.ExternalAddresses, in.IP)
			case in.Hostname != "":
				st.ExternalAddresses = append(st.ExternalAddresses, in.Hostname)
			}
		}
	}
	return st
}
