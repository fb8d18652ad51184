package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// ServiceSpec says how the client Service (<name>-client) is exposed. Only
// the client Service changes; the headless peer Service stays in-cluster.
// Sources of the rules: Kubernetes Service API (nodePort needs type
// NodePort or LoadBalancer and the default node port range 30000-32767;
// loadBalancerSourceRanges applies to LoadBalancer; externalTrafficPolicy
// to Services that take traffic from outside the cluster).
// +kubebuilder:validation:XValidation:rule="!has(self.nodePort) || self.type != 'ClusterIP'",fieldPath=".nodePort",message="service.nodePort applies only to type NodePort or LoadBalancer (a ClusterIP Service has no node port)"
// +kubebuilder:validation:XValidation:rule="!has(self.loadBalancerSourceRanges) || self.type == 'LoadBalancer'",fieldPath=".loadBalancerSourceRanges",message="service.loadBalancerSourceRanges applies only to type LoadBalancer"
// +kubebuilder:validation:XValidation:rule="!has(self.externalTrafficPolicy) || self.type != 'ClusterIP'",fieldPath=".externalTrafficPolicy",message="service.externalTrafficPolicy applies only to type NodePort or LoadBalancer (traffic from outside the cluster)"
type ServiceSpec struct {
	// Type of the client Service: ClusterIP (default, reachable inside
	// the cluster only), NodePort (also on every node's address at the
	// node port) or LoadBalancer (also at the address a load balancer
	// controller assigns, see status.service.externalAddresses).
	// +kubebuilder:default=ClusterIP
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	// +optional
	Type corev1.ServiceType `json:"type,omitempty"`

	// Annotations added to the client Service, e.g. a cloud load
	// balancer's settings.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// NodePort fixes the node port of the client port (type NodePort or
	// LoadBalancer), 30000-32767; unset, Kubernetes picks one (shown in
	// status.service.nodePort). A port another Service holds is refused by
	// the API server when the Service is applied: the cluster reports it
	// in its Degraded condition.
	// +kubebuilder:validation:Minimum=30000
	// +kubebuilder:validation:Maximum=32767
	// +optional
	NodePort *int32 `json:"nodePort,omitempty"`

	// LoadBalancerSourceRanges restricts which client CIDRs the load
	// balancer lets in (type LoadBalancer), e.g. "198.18.0.0/15".
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="self.all(r, isCIDR(r))",messageExpression="'service.loadBalancerSourceRanges entry ' + self.filter(r, !isCIDR(r))[0] + ' is not a CIDR (e.g. 198.18.0.0/15)'"
	// +listType=atomic
	// +optional
	LoadBalancerSourceRanges []string `json:"loadBalancerSourceRanges,omitempty"`

	// ExternalTrafficPolicy is Cluster (Kubernetes' default: any node
	// forwards) or Local (only nodes running a member answer, keeping the
	// client's source address); type NodePort or LoadBalancer.
	// +kubebuilder:validation:Enum=Cluster;Local
	// +optional
	ExternalTrafficPolicy corev1.ServiceExternalTrafficPolicy `json:"externalTrafficPolicy,omitempty"`
}

// ServiceStatus is what the client Service really has, read back from it.
type ServiceStatus struct {
	// Type of the client Service as applied.
	// +optional
	Type corev1.ServiceType `json:"type,omitempty"`
	// NodePort is the node port of the client port (NodePort and
	// LoadBalancer): clients outside the cluster reach any node's address
	// at this port.
	// +optional
	NodePort int32 `json:"nodePort,omitempty"`
	// ExternalAddresses are the load balancer's ingress IPs and host names
	// (LoadBalancer), clients reach them at the client port 2379; empty
	// until a load balancer controller has assigned one.
	// +optional
	ExternalAddresses []string `json:"externalAddresses,omitempty"`
}

// ServiceType is the client Service's type, ClusterIP when unset.
func (c *EtcdCluster) ServiceType() corev1.ServiceType {
	if c.Spec.Service.Type == "" {
		return corev1.ServiceTypeClusterIP
	}
	return c.Spec.Service.Type
}
