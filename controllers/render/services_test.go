package render

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func TestClientServiceExposure(t *testing.T) {
	port := int32(31379)
	cases := []struct {
		name string
		spec etcdv1.ServiceSpec
		want corev1.ServiceSpec // only the fields exposure sets
		ann  map[string]string
	}{
		{"default ClusterIP", etcdv1.ServiceSpec{}, corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}, nil},
		{"ClusterIP with annotations; stray fields left out", etcdv1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Annotations: map[string]string{"a": "b"}, NodePort: &port, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal},
			corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}, map[string]string{"a": "b"}},
		{"NodePort with a fixed port and Local policy", etcdv1.ServiceSpec{Type: corev1.ServiceTypeNodePort, NodePort: &port, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, LoadBalancerSourceRanges: []string{"198.18.0.0/15"}},
			corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Ports: []corev1.ServicePort{{NodePort: port}}}, nil},
		{"NodePort, port picked by Kubernetes", etcdv1.ServiceSpec{Type: corev1.ServiceTypeNodePort},
			corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort}, nil},
		{"LoadBalancer with source ranges", etcdv1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerSourceRanges: []string{"198.18.0.0/15"}, Annotations: map[string]string{"lb": "internal"}},
			corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerSourceRanges: []string{"198.18.0.0/15"}}, map[string]string{"lb": "internal"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cluster(nil)
			c.Spec.Service = tc.spec
			got := ClientService(c)
			if got.Spec.Type != tc.want.Type || got.Spec.ExternalTrafficPolicy != tc.want.ExternalTrafficPolicy ||
				!reflect.DeepEqual(got.Spec.LoadBalancerSourceRanges, tc.want.LoadBalancerSourceRanges) {
				t.Errorf("spec: got %+v, want %+v", got.Spec, tc.want)
			}
			wantNodePort := int32(0)
			if len(tc.want.Ports) > 0 {
				wantNodePort = tc.want.Ports[0].NodePort
			}
			if len(got.Spec.Ports) != 1 || got.Spec.Ports[0].Port != etcdv1.ClientPort || got.Spec.Ports[0].NodePort != wantNodePort {
				t.Errorf("ports: got %+v, want one client port with node port %d", got.Spec.Ports, wantNodePort)
			}
			if !reflect.DeepEqual(got.Annotations, tc.ann) {
				t.Errorf("annotations: got %v, want %v", got.Annotations, tc.ann)
			}
			if peer := PeerService(c); peer.Spec.Type != "" || peer.Spec.ClusterIP != corev1.ClusterIPNone || peer.Annotations != nil {
				t.Errorf("peer service changed with exposure: %+v", peer.Spec)
			}
		})
	}
}

func TestServiceStatus(t *testing.T) {
	svc := func(typ corev1.ServiceType, nodePort int32, ingress ...corev1.LoadBalancerIngress) *corev1.Service {
		return &corev1.Service{
			Spec:   corev1.ServiceSpec{Type: typ, Ports: []corev1.ServicePort{{Name: "client", Port: 2379, NodePort: nodePort}}},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: ingress}},
		}
	}
	cases := []struct {
		name string
		svc  *corev1.Service
		want etcdv1.ServiceStatus
	}{
		{"ClusterIP", svc(corev1.ServiceTypeClusterIP, 0), etcdv1.ServiceStatus{Type: corev1.ServiceTypeClusterIP}},
		{"NodePort", svc(corev1.ServiceTypeNodePort, 31379), etcdv1.ServiceStatus{Type: corev1.ServiceTypeNodePort, NodePort: 31379}},
		{"NodePort not allocated yet", svc(corev1.ServiceTypeNodePort, 0), etcdv1.ServiceStatus{Type: corev1.ServiceTypeNodePort}},
		{"LoadBalancer pending", svc(corev1.ServiceTypeLoadBalancer, 30001), etcdv1.ServiceStatus{Type: corev1.ServiceTypeLoadBalancer, NodePort: 30001}},
		{"LoadBalancer with an IP and a host name", svc(corev1.ServiceTypeLoadBalancer, 30001, corev1.LoadBalancerIngress{IP: "198.18.5.1"}, corev1.LoadBalancerIngress{Hostname: "lb.example.com"}, corev1.LoadBalancerIngress{}),
			etcdv1.ServiceStatus{Type: corev1.ServiceTypeLoadBalancer, NodePort: 30001, ExternalAddresses: []string{"198.18.5.1", "lb.example.com"}}},
		{"ingress left on a ClusterIP Service is not reported", svc(corev1.ServiceTypeClusterIP, 0, corev1.LoadBalancerIngress{IP: "198.18.5.1"}), etcdv1.ServiceStatus{Type: corev1.ServiceTypeClusterIP}},
	}
	for _, tc := range cases {
		if got := ServiceStatus(tc.svc); !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, *got, tc.want)
		}
	}
}
