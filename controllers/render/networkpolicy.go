package render

import (
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/contract"
)

// NetworkPolicy admits peer traffic from members only, client traffic from
// members, the operator's namespace and the allowed clients (everyone when
// none are listed), and metrics scrapes from anywhere.
func NetworkPolicy(c *etcdv1.EtcdCluster, operatorNamespace string) *networkingv1.NetworkPolicy {
	port := func(p int) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Port: ptrIntOrString(p)}}
	}
	members := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: c.SelectorLabels()}}
	clientRule := networkingv1.NetworkPolicyIngressRule{Ports: port(etcdv1.ClientPort)}
	if len(c.Spec.NetworkPolicy.AllowedClients) > 0 {
		// Backup Jobs stream snapshots from the members.
		backups := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: jobLabels(c, backupObjectLabel)}}
		clientRule.From = append([]networkingv1.NetworkPolicyPeer{members, backups}, c.Spec.NetworkPolicy.AllowedClients...)
		if operatorNamespace != "" {
			clientRule.From = append(clientRule.From, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": operatorNamespace}}})
		}
	}
	ingress := []networkingv1.NetworkPolicyIngressRule{
		{Ports: port(etcdv1.PeerPort), From: []networkingv1.NetworkPolicyPeer{members}},
		clientRule,
		{Ports: port(etcdv1.MetricsPort)},
	}
	if TLSMigrationStep(c) != "" {
		// Peers reach each other over https at the migration port too.
		ingress = append(ingress, networkingv1.NetworkPolicyIngressRule{Ports: port(contract.PeerMigrationPort), From: []networkingv1.NetworkPolicyPeer{members}})
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: objectMeta(c, c.NetworkPolicyName(), "etcd"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: c.SelectorLabels()},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     ingress,
		},
	}
}

func ptrIntOrString(p int) *intstr.IntOrString {
	v := intstr.FromInt32(int32(p))
	return &v
}
