package v1alpha1

// CertificateSource is where the certificates of a cluster with TLS come
// from. A change of source on a running cluster is a switch: it goes
// through the phases of a CA rotation (TrustBoth, IssueFromNew, DropOld;
// see controllers/etcdcluster/certswitch.go), recorded in
// status.certificateAuthority.rotation with from and to set.
// +kubebuilder:validation:Enum=Operator;Secrets
type CertificateSource string

const (
	// CertificateSourceOperator: the operator's own CA (Secret <name>-ca)
	// issues and renews the leaves, the default.
	CertificateSourceOperator CertificateSource = "Operator"
	// CertificateSourceSecrets: the user's Secrets named by
	// spec.tls.serverSecretName, peerSecretName and clientSecretName.
	CertificateSourceSecrets CertificateSource = "Secrets"
)

// CertificateSource is the source spec.tls asks for: Secrets when
// serverSecretName is set, else Operator.
// (A cluster whose certificates cert-manager issues never switches: see
// CertManagerSpec.)
func (c *EtcdCluster) CertificateSource() CertificateSource {
	if c.Spec.TLS.ServerSecretName != "" {
		return CertificateSourceSecrets
	}
	return CertificateSourceOperator
}

// TLSSecretsStatus names the Secrets members mount and the operator (and
// backups) connect with, when they are not the ones spec.tls names: during
// a switch to the user's Secrets, the operator's own Secrets carry both
// sources' CAs until the last phase; while a switch is refused, the
// members keep the old source's Secrets.
type TLSSecretsStatus struct {
	// Source is where the certificates in these Secrets come from.
	Source CertificateSource `json:"source"`
	// Server, Peer and Client are the Secrets' names (tls.crt, tls.key,
	// ca.crt).
	Server string `json:"server"`
	Peer   string `json:"peer"`
	Client string `json:"client"`
}

// OperatorServerSecretName, OperatorPeerSecretName and
// OperatorClientSecretName are the Secrets holding the leaves the
// operator's CA issues (and, during a switch, copies of the user's).
func (c *EtcdCluster) OperatorServerSecretName() string { return c.Name + "-server-tls" }
func (c *EtcdCluster) OperatorPeerSecretName() string   { return c.Name + "-peer-tls" }
func (c *EtcdCluster) OperatorClientSecretName() string { return c.Name + "-client-tls" }
