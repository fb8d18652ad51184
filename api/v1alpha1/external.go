package v1alpha1

import "strings"

// ExternalEtcd is an etcd cluster this operator does not manage, backed up
// through its client URLs: any etcd v3 (a Bitnami chart, a kubeadm control
// plane's etcd, etcd on virtual machines). The snapshot is taken from one
// member: among the endpoints that answer, one that knows a leader and is
// within 1000 raft entries of the most up-to-date of them, a follower
// before the leader (etcdserver/backup/pick.go).
// +kubebuilder:validation:XValidation:rule="self.endpoints.all(e, e.startsWith('https://')) || self.endpoints.all(e, e.startsWith('http://'))",message="endpoints mix http:// and https://: give the client URLs of one cluster, all with the scheme its members serve"
// +kubebuilder:validation:XValidation:rule="has(self.tls) == self.endpoints.all(e, e.startsWith('https://'))",messageExpression="has(self.tls) ? 'tls is set but the endpoints are http://: use the https:// client URLs, or drop tls' : 'https:// endpoints need tls.secretName: a Secret with ca.crt, the CA that signed the members\\' server certificates'"
type ExternalEtcd struct {
	// Endpoints are the client URLs of the cluster's members,
	// http(s)://host:port, as etcdctl --endpoints takes them. Give every
	// member: the backup picks an up-to-date one and does not rely on one
	// member being reachable.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=set
	Endpoints []EtcdEndpoint `json:"endpoints"`
	// TLS is how to reach https:// endpoints; required for them.
	// +optional
	TLS *ExternalEtcdTLS `json:"tls,omitempty"`
	// Auth is the etcd user to take the snapshot as, when the cluster has
	// authentication enabled. The snapshot needs the root role. A client
	// certificate in tls authenticates too (as the user of its common
	// name), when the cluster runs with --client-cert-auth.
	// +optional
	Auth *ExternalEtcdAuth `json:"auth,omitempty"`
}

// EtcdEndpoint is an etcd client URL: http(s)://host:port, host a DNS name
// or an IP address (IPv6 in brackets), without a path.
// +kubebuilder:validation:MaxLength=280
// +kubebuilder:validation:XValidation:rule="self.matches('^https?://([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?([.][A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*|[[][0-9A-Fa-f:.]+[]]):[0-9]{1,5}$')",messageExpression="'endpoint ' + self + ' must be http://host:port or https://host:port (a DNS name or IP address and a port, no path), as etcdctl --endpoints takes it'"
// +kubebuilder:validation:XValidation:rule="!self.matches(':[0-9]+$') || (int(self.substring(self.lastIndexOf(':') + 1)) >= 1 && int(self.substring(self.lastIndexOf(':') + 1)) <= 65535)",messageExpression="'endpoint ' + self + ' has port ' + self.substring(self.lastIndexOf(':') + 1) + ': a port is 1-65535'"
type EtcdEndpoint string

// Keys of the Secrets of an external source.
const (
	// ExternalTLSCAKey holds the PEM CA bundle that signed the members'
	// server certificates (required).
	ExternalTLSCAKey = "ca.crt"
	// ExternalTLSCertKey and ExternalTLSKeyKey hold a PEM client
	// certificate and its key: both or neither (a cluster without
	// --client-cert-auth needs none).
	ExternalTLSCertKey = "tls.crt"
	ExternalTLSKeyKey  = "tls.key"
	// ExternalAuthUsernameKey and ExternalAuthPasswordKey hold the etcd
	// user and its password.
	ExternalAuthUsernameKey = "username"
	ExternalAuthPasswordKey = "password"
)

// ExternalEtcdTLS names the Secret the backup Job mounts to reach https://
// endpoints.
type ExternalEtcdTLS struct {
	// SecretName is a Secret in the same namespace with ca.crt (the CA of
	// the members' server certificates, PEM) and, for a cluster that
	// checks client certificates (--client-cert-auth), tls.crt and tls.key
	// (a client certificate signed by a CA the members trust). The shape of
	// a kubernetes.io/tls Secret with ca.crt added, as cert-manager writes
	// it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`
}

// ExternalEtcdAuth names the Secret with the etcd user to authenticate as.
type ExternalEtcdAuth struct {
	// SecretName is a Secret in the same namespace with the keys username
	// (root, or a user with the root role: the snapshot RPC needs it) and
	// password.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`
}

// EndpointList is the endpoints joined with commas, as the backup
// command's --endpoints takes them.
func (e *ExternalEtcd) EndpointList() string {
	out := make([]string, len(e.Endpoints))
	for i, ep := range e.Endpoints {
		out[i] = string(ep)
	}
	return strings.Join(out, ",")
}

// ExternalKeyDir stands for the cluster name in the object key of a backup
// of an external etcd: <prefix>/<namespace>/external/<backup>-<time>.db.zst.
const ExternalKeyDir = "external"

// Source says what spec backs up, for object keys, events and the
// manifest: the EtcdCluster's name, or "external" followed by the
// endpoints in parentheses.
func (s *EtcdBackupSpec) Source() string {
	if s.External != nil {
		return ExternalKeyDir + " (" + s.External.EndpointList() + ")"
	}
	return s.ClusterName
}
