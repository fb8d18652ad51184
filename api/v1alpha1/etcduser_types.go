package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UserPermission is what an application may do with its keys (etcd's
// authpb.Permission types).
// +kubebuilder:validation:Enum=read;write;readwrite
type UserPermission string

const (
	// PermissionRead: range (get) and watch.
	PermissionRead UserPermission = "read"
	// PermissionWrite: put and delete.
	PermissionWrite UserPermission = "write"
	// PermissionReadWrite: both.
	PermissionReadWrite UserPermission = "readwrite"
)

// UserAuthentication is how an application proves it is the etcd user.
// +kubebuilder:validation:Enum=certificate;password
type UserAuthentication string

const (
	// AuthenticationCertificate: a client certificate signed by the
	// cluster's CA whose common name is the user name (etcd maps a
	// verified client certificate's CN to the user, --client-cert-auth).
	// Needs TLS on and a CA the operator issued (not tls.serverSecretName).
	AuthenticationCertificate UserAuthentication = "certificate"
	// AuthenticationPassword: a generated password the application sends
	// to etcd's Authenticate call for a token.
	AuthenticationPassword UserAuthentication = "password"
)

// KeyRange is one range of keys and the permission granted on it: either
// every key starting with prefix, or the one key, or the keys from key
// (inclusive) to rangeEnd (exclusive), compared as bytes as etcd does.
// +kubebuilder:validation:XValidation:rule="has(self.prefix) != has(self.key)",message="give exactly one of prefix and key"
// +kubebuilder:validation:XValidation:rule="!has(self.rangeEnd) || has(self.key)",fieldPath=".rangeEnd",message="rangeEnd goes with key (a prefix already names its range)"
// +kubebuilder:validation:XValidation:rule="!has(self.rangeEnd) || self.rangeEnd > self.key",fieldPath=".rangeEnd",messageExpression="'rangeEnd ' + self.rangeEnd + ' must sort after key ' + self.key + ': the range is [key, rangeEnd)'"
type KeyRange struct {
	// Prefix grants every key that starts with it, e.g. "/app/".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Prefix *string `json:"prefix,omitempty"`
	// Key grants this key, or the keys [key, rangeEnd) with rangeEnd.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Key *string `json:"key,omitempty"`
	// RangeEnd is the first key after the range (exclusive).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	RangeEnd *string `json:"rangeEnd,omitempty"`
	// Permission on the range.
	Permission UserPermission `json:"permission"`
}

// EtcdUserSpec names the cluster, the keys the application needs and how it
// authenticates. The etcd user is the EtcdUser's name; its role is
// quorum-user-<name> (EtcdUser.RoleName).
type EtcdUserSpec struct {
	// ClusterName is the EtcdCluster in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="clusterName is immutable: create a new EtcdUser"
	ClusterName string `json:"clusterName"`
	// Permissions are the key ranges the user may use. A change updates
	// the role: ranges no longer listed are revoked. A range is listed
	// once: etcd keeps one permission per range (a second grant replaces
	// the first), so two entries for the same range are refused; give it
	// readwrite instead.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(r, self.exists_one(s, has(s.prefix) == has(r.prefix) && (has(r.prefix) ? s.prefix == r.prefix : (s.key == r.key && has(s.rangeEnd) == has(r.rangeEnd) && (!has(r.rangeEnd) || s.rangeEnd == r.rangeEnd)))))",message="a range is listed twice: etcd keeps one permission per range, so list it once (readwrite grants both)"
	Permissions []KeyRange `json:"permissions"`
	// Authentication is certificate (default) or password. Immutable.
	// +kubebuilder:default=certificate
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="authentication is immutable: create a new EtcdUser"
	// +optional
	Authentication UserAuthentication `json:"authentication,omitempty"`
}

// EtcdUserStatus reports the user's state.
type EtcdUserStatus struct {
	// ObservedGeneration is the generation last carried out in full.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// SecretName holds the credentials (EtcdUser.CredentialsSecretName).
	// +optional
	SecretName string `json:"secretName,omitempty"`
	// CertificateNotAfter is when the client certificate expires; it is
	// re-issued 30 days earlier (certificates live 90 days).
	// +optional
	CertificateNotAfter *metav1.Time `json:"certificateNotAfter,omitempty"`
}

// EtcdUser is an etcd user and role for one application, with its
// credentials in a Secret.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=quorum
// +kubebuilder:validation:XValidation:rule="self.metadata.name != 'root'",message="root is etcd's superuser and belongs to the operator: choose another name"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 200",message="the name is at most 200 characters (the Secret <name>-etcd-credentials must fit 253)"
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Auth",type=string,JSONPath=`.spec.authentication`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EtcdUser struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   EtcdUserSpec   `json:"spec"`
	Status EtcdUserStatus `json:"status,omitempty"`
}

// EtcdUserList is a list of EtcdUsers.
// +kubebuilder:object:root=true
type EtcdUserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EtcdUser `json:"items"`
}

func init() {
	SchemeBuilder.Register(&EtcdUser{}, &EtcdUserList{})
}

// RoleName is the etcd role holding the user's permissions.
func (u *EtcdUser) RoleName() string { return "quorum-user-" + u.Name }

// CredentialsSecretName holds the endpoint, ca.crt and the credentials.
func (u *EtcdUser) CredentialsSecretName() string { return u.Name + "-etcd-credentials" }

// AuthenticationMethod is spec.authentication with its default applied.
func (u *EtcdUser) AuthenticationMethod() UserAuthentication {
	if u.Spec.Authentication == "" {
		return AuthenticationCertificate
	}
	return u.Spec.Authentication
}

// Range returns the etcd range [key, rangeEnd) of r: a prefix's range end
// is the prefix with its last byte below 0xff incremented (etcd's
// GetPrefixRangeEnd); a single key has an empty range end.
func (r KeyRange) Range() (key, rangeEnd string) {
	if r.Prefix != nil {
		p := []byte(*r.Prefix)
		for i := len(p) - 1; i >= 0; i-- {
			if p[i] < 0xff {
				end := append([]byte{}, p[:i+1]...)
				end[i]++
				return *r.Prefix, string(end)
			}
		}
		return *r.Prefix, "\x00" // all 0xff: every key from the prefix on
	}
	if r.Key == nil {
		return "", ""
	}
	if r.RangeEnd != nil {
		return *r.Key, *r.RangeEnd
	}
	return *r.Key, ""
}
