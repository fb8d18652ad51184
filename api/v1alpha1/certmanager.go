package v1alpha1

// CertManagerGroup is the API group of cert-manager's Certificates and of
// its own issuers (Issuer, ClusterIssuer).
const CertManagerGroup = "cert-manager.io"

// CertManagerSpec has cert-manager (https://cert-manager.io) issue the
// cluster's certificates instead of the operator: the operator creates three
// cert-manager Certificates, owned by the EtcdCluster and named like the
// Secrets cert-manager writes (<name>-server-tls, <name>-peer-tls,
// <name>-client-tls), with the names, addresses, common names and usages
// members need, and mounts those Secrets (tls.crt, tls.key, ca.crt). The
// members start once cert-manager has written all three; renewals by
// cert-manager reach the members without a restart (they read the mounted
// files on each TLS handshake). The operator holds no CA key, so no CA
// rotation and no EtcdUser with certificate authentication.
type CertManagerSpec struct {
	// IssuerRef names the cert-manager issuer that signs the three
	// certificates. Every certificate's ca.crt must be the CA members and
	// clients trust: a CA Issuer (or any issuer that writes ca.crt) fits;
	// members trust what ca.crt holds. Fixed once the cluster exists: a
	// new issuer would mean a new CA, which members that have not yet
	// reloaded their files would reject.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="tls.certManager.issuerRef cannot change on a running cluster: a new issuer means a new CA, which members that have not yet reloaded their certificates reject; create a new cluster and restore a backup into it"
	IssuerRef CertManagerIssuerRef `json:"issuerRef"`
}

// CertManagerIssuerRef is cert-manager's issuer reference
// (Certificate spec.issuerRef).
// +kubebuilder:validation:XValidation:rule="self.group != 'cert-manager.io' || self.kind in ['Issuer', 'ClusterIssuer']",message="tls.certManager.issuerRef.kind must be Issuer or ClusterIssuer for group cert-manager.io"
type CertManagerIssuerRef struct {
	// Name of the Issuer (in the cluster's namespace) or ClusterIssuer.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Kind is Issuer (namespaced, default) or ClusterIssuer; an external
	// issuer (another group) has its own kinds.
	// +kubebuilder:default=Issuer
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Kind string `json:"kind,omitempty"`
	// Group is the issuer's API group: cert-manager.io (default) for
	// cert-manager's own issuers, another for an external issuer.
	// +kubebuilder:default=cert-manager.io
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Group string `json:"group,omitempty"`
}

// CertManagerCertificates reports whether cert-manager issues the
// cluster's certificates (spec.tls.certManager).
func (c *EtcdCluster) CertManagerCertificates() bool { return c.Spec.TLS.CertManager != nil }
