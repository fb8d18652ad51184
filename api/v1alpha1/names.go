package v1alpha1

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"quorum.dev/etcd-operator/internal/contract"
)

// Well-known ports of a member (the contract with quorum-etcd).
const (
	ClientPort  = contract.ClientPort
	PeerPort    = contract.PeerPort
	MetricsPort = contract.MetricsPort
)

// Labels set on every object the operator creates for a cluster.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelComponent = "app.kubernetes.io/component"

	// NameValue is the app.kubernetes.io/name of member pods.
	NameValue = "etcd"
	// ManagedByValue is the app.kubernetes.io/managed-by of owned objects.
	ManagedByValue = "quorum"
)

// DefaultClusterDomain is the DNS suffix used when none is configured.
const DefaultClusterDomain = contract.DefaultClusterDomain

// SelectorLabels select the member pods of the cluster.
func (c *EtcdCluster) SelectorLabels() map[string]string {
	return map[string]string{LabelName: NameValue, LabelInstance: c.Name}
}

// Labels are set on every object owned by the cluster.
func (c *EtcdCluster) Labels() map[string]string {
	l := c.SelectorLabels()
	l[LabelManagedBy] = ManagedByValue
	return l
}

// StatefulSetName is the StatefulSet of the members.
func (c *EtcdCluster) StatefulSetName() string { return c.Name }

// PeerServiceName is the headless Service giving members stable DNS names.
func (c *EtcdCluster) PeerServiceName() string { return c.Name + "-peer" }

// ClientServiceName is the Service clients connect to.
func (c *EtcdCluster) ClientServiceName() string { return c.Name + "-client" }

// ConfigMapName holds the bootstrap state (and, for members made by an
// operator before per-revision options, their etcd options file).
func (c *EtcdCluster) ConfigMapName() string { return c.Name + "-config" }

// OptionsConfigMapName holds the etcd options file whose digest is hash
// (the pod template's config-hash): <name>-options-<hash>. Members mount the
// one of the revision they run, so a change is read only by pods made from
// a template that names it.
func (c *EtcdCluster) OptionsConfigMapName(hash string) string { return c.Name + "-options-" + hash }

// NetworkPolicyName is the cluster's NetworkPolicy.
func (c *EtcdCluster) NetworkPolicyName() string { return c.Name }

// PDBName is the PodDisruptionBudget of the members.
func (c *EtcdCluster) PDBName() string { return c.Name }

// CASecretName holds the cluster's certificate authority.
func (c *EtcdCluster) CASecretName() string { return c.Name + "-ca" }

// ServerSecretName holds the certificate members serve clients with:
// status.tlsSecrets' while it is set (a switch of certificate sources),
// else the user's (spec.tls) or the operator's.
func (c *EtcdCluster) ServerSecretName() string {
	if s := c.Status.TLSSecrets; s != nil {
		return s.Server
	}
	return or(c.Spec.TLS.ServerSecretName, c.OperatorServerSecretName())
}

// PeerSecretName holds the certificate members talk to each other with
// (chosen as ServerSecretName).
func (c *EtcdCluster) PeerSecretName() string {
	if s := c.Status.TLSSecrets; s != nil {
		return s.Peer
	}
	return or(c.Spec.TLS.PeerSecretName, c.OperatorPeerSecretName())
}

// ClientSecretName holds the root client certificate (chosen as
// ServerSecretName).
func (c *EtcdCluster) ClientSecretName() string {
	if s := c.Status.TLSSecrets; s != nil {
		return s.Client
	}
	return or(c.Spec.TLS.ClientSecretName, c.OperatorClientSecretName())
}

// UserCertificates reports whether the certificates come from Secrets the
// operator does not issue: the user's (spec.tls.serverSecretName and co.)
// or cert-manager's (spec.tls.certManager). Either way the operator holds
// no CA key.
func (c *EtcdCluster) UserCertificates() bool {
	return c.Spec.TLS.ServerSecretName != "" || c.Spec.TLS.CertManager != nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// RootPasswordSecretName holds the root user's password: the user's Secret
// when one is named, else the generated one.
func (c *EtcdCluster) RootPasswordSecretName() string {
	if c.Spec.Auth.RootPasswordSecretName != "" {
		return c.Spec.Auth.RootPasswordSecretName
	}
	return c.Name + "-root-password"
}

// RootPasswordRecordSecretName is the operator's own record of the root
// password last applied to etcd (keys "password", "pending",
// "cluster-id"): with TLS off it is the only credential the operator can
// change the password with. See controllers/etcdcluster/credentials.go.
func (c *EtcdCluster) RootPasswordRecordSecretName() string {
	return c.Name + "-root-password-applied"
}

// AuthTokenKeySecretName holds the JWT signing key the operator generates
// for auth.token.type jwt (keys "private.pem" and "public.pem"). Like the
// generated root password, it lives as long as the member volumes do (see
// CredentialsOutliveCluster).
func (c *EtcdCluster) AuthTokenKeySecretName() string { return c.Name + "-auth-token-key" }

// AuthTokenType is spec.auth.token.type, jwt when empty (the CRD default).
func (c *EtcdCluster) AuthTokenType() AuthTokenType {
	if c.Spec.Auth.Token.Type == "" {
		return AuthTokenJWT
	}
	return c.Spec.Auth.Token.Type
}

// AuthTokenTTL is spec.auth.token.ttl, DefaultAuthTokenTTL when unset.
func (c *EtcdCluster) AuthTokenTTL() time.Duration {
	if c.Spec.Auth.Token.TTL == nil {
		return DefaultAuthTokenTTL
	}
	return c.Spec.Auth.Token.TTL.Duration
}

// CredentialsOutliveCluster reports whether the root password Secrets are
// kept when the EtcdCluster is deleted: exactly when its member volumes
// are (medium PersistentVolume and storage.whenDeleted Retain, the
// defaults), so that a cluster recreated on them can still authenticate.
func (c *EtcdCluster) CredentialsOutliveCluster() bool {
	m := c.Spec.Storage.Medium
	return (m == "" || m == StoragePersistentVolume) && c.Spec.Storage.WhenDeleted != PVCDelete
}

// AuthEnabled reports whether etcd authentication is wanted (the default).
func (c *EtcdCluster) AuthEnabled() bool {
	return c.Spec.Auth.Enabled == nil || *c.Spec.Auth.Enabled
}

// MemberName is the pod (and etcd member) name of ordinal i.
func (c *EtcdCluster) MemberName(i int) string { return c.Name + "-" + strconv.Itoa(i) }

// MemberClaimName is the volume claim of member i, made by the StatefulSet
// from its "data" claim template.
// MemberOrdinal is the ordinal of the member pod named pod, the inverse of
// MemberName; false when pod is not a member name of this cluster
// ("db-01", "db-x", "other-1").
func (c *EtcdCluster) MemberOrdinal(pod string) (int, bool) {
	rest, ok := strings.CutPrefix(pod, c.Name+"-")
	if !ok {
		return 0, false
	}
	o, err := strconv.Atoi(rest)
	if err != nil || o < 0 || c.MemberName(o) != pod {
		return 0, false
	}
	return o, true
}

func (c *EtcdCluster) MemberClaimName(i int) string { return "data-" + c.MemberName(i) }

// MemberHost is the stable DNS name of member ordinal i.
func (c *EtcdCluster) MemberHost(i int, domain string) string {
	return contract.MemberHost(c.MemberName(i), c.PeerServiceName(), c.Namespace, domain)
}

// Scheme is the scheme every member serves clients on: https when TLS is
// on (ClientTLS), http otherwise and in the first phases of a TLS
// migration.
func (c *EtcdCluster) Scheme() string {
	if c.ClientTLS() {
		return "https"
	}
	return "http"
}

// MemberPeerURL is the advertised peer URL of member ordinal i.
func (c *EtcdCluster) MemberPeerURL(i int, domain string) string {
	return fmt.Sprintf("%s://%s:%d", c.Scheme(), c.MemberHost(i, domain), PeerPort)
}

// MemberClientURL is the advertised client URL of member ordinal i.
func (c *EtcdCluster) MemberClientURL(i int, domain string) string {
	return fmt.Sprintf("%s://%s:%d", c.Scheme(), c.MemberHost(i, domain), ClientPort)
}

// ClientEndpoint is the URL of the client Service.
func (c *EtcdCluster) ClientEndpoint(domain string) string {
	return fmt.Sprintf("%s://%s.%s.svc.%s:%d", c.Scheme(), c.ClientServiceName(), c.Namespace, domain, ClientPort)
}

// TLSEnabled reports whether mutual TLS is on (the default).
func (c *EtcdCluster) TLSEnabled() bool {
	return c.Spec.TLS.Enabled == nil || *c.Spec.TLS.Enabled
}

// DesiredReplicas is spec.replicas with its default applied.
func (c *EtcdCluster) DesiredReplicas() int32 {
	if c.Spec.Replicas == nil {
		return 3
	}
	return *c.Spec.Replicas
}

// ProgressDeadline is spec.rollout.progressDeadlineSeconds with its
// default, in seconds.
func (c *EtcdCluster) ProgressDeadline() int32 {
	if d := c.Spec.Rollout.ProgressDeadlineSeconds; d != nil {
		return *d
	}
	return DefaultProgressDeadlineSeconds
}

// MinReadySeconds is spec.rollout.minReadySeconds with its default applied.
func (c *EtcdCluster) MinReadySeconds() int32 {
	if s := c.Spec.Rollout.MinReadySeconds; s != nil {
		return *s
	}
	return DefaultMinReadySeconds
}

// PreflightJobName is the Job that checks the image and etcd options with
// key hash (16 hex digits) before any member can run them:
// <name>-preflight-<hash>, the cluster
// name cut so that the whole stays a DNS label (63).
func (c *EtcdCluster) PreflightJobName(hash string) string {
	suffix := "-preflight-" + hash
	n := c.Name
	if max := 63 - len(suffix); len(n) > max {
		n = strings.TrimRight(n[:max], "-")
	}
	return n + suffix
}
