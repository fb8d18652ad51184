package render

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/contract"
)

// AuthTokenKeyDir is where a member mounts the JWT signing key Secret
// (EtcdCluster.AuthTokenKeySecretName) when spec.auth.token.type is jwt.
const AuthTokenKeyDir = "/etc/quorum/auth-token"

// Keys of the JWT signing key Secret: the files quorum-etcd reads from
// AuthTokenKeyDir.
const (
	AuthTokenPrivateKey = contract.AuthTokenPrivateKeyFile
	AuthTokenPublicKey  = contract.AuthTokenPublicKeyFile
)

const authTokenVolume = "auth-token-key"

// authTokenVolumes is the signing key Secret of a jwt cluster, none for
// simple tokens.
func authTokenVolumes(c *etcdv1.EtcdCluster) []corev1.Volume {
	if c.AuthTokenType() != etcdv1.AuthTokenJWT {
		return nil
	}
	return []corev1.Volume{{Name: authTokenVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName:  c.AuthTokenKeySecretName(),
		Items:       []corev1.KeyToPath{{Key: AuthTokenPrivateKey, Path: AuthTokenPrivateKey}, {Key: AuthTokenPublicKey, Path: AuthTokenPublicKey}},
		DefaultMode: ptr.To[int32](0o440),
	}}}}
}

func authTokenMounts(c *etcdv1.EtcdCluster) []corev1.VolumeMount {
	if c.AuthTokenType() != etcdv1.AuthTokenJWT {
		return nil
	}
	return []corev1.VolumeMount{{Name: authTokenVolume, MountPath: AuthTokenKeyDir, ReadOnly: true}}
}

// authTokenEnv tells quorum-etcd which tokens to serve. Simple tokens
// with etcd's default TTL are quorum-etcd's own default and render
// nothing, so a cluster made before spec.auth.token existed that sets
// type simple keeps its pod template and is not restarted.
func authTokenEnv(c *etcdv1.EtcdCluster) []corev1.EnvVar {
	var e []corev1.EnvVar
	if c.AuthTokenType() == etcdv1.AuthTokenJWT {
		e = append(e,
			corev1.EnvVar{Name: contract.EnvAuthToken, Value: contract.AuthTokenJWT},
			corev1.EnvVar{Name: contract.EnvAuthTokenKeyDir, Value: AuthTokenKeyDir})
	}
	if ttl := c.AuthTokenTTL(); ttl != etcdv1.DefaultAuthTokenTTL || len(e) > 0 {
		e = append(e, corev1.EnvVar{Name: contract.EnvAuthTokenTTL, Value: ttl.String()})
	}
	return e
}

// AuthTokenKeySecret is c's JWT signing key Secret holding key: the
// private key as PKCS #8 PEM, the public key as PKIX PEM. The caller sets
// its owner (it lives as long as the member volumes do).
func AuthTokenKeySecret(c *etcdv1.EtcdCluster, key *ecdsa.PrivateKey) (*corev1.Secret, error) {
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding the JWT signing key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encoding the JWT verification key: %w", err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: c.AuthTokenKeySecretName(), Namespace: c.Namespace, Labels: c.Labels()},
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			AuthTokenPrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}),
			AuthTokenPublicKey:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		},
	}, nil
}

// AuthTokenKeyHash checks that the data of a signing key Secret holds what
// etcd needs for ES256 (an ECDSA P-256 private key, PKCS #8 or SEC 1 PEM,
// and its public key, PKIX PEM) and returns a short digest of the public
// key: members restart when it changes, so that all of them sign and
// verify with the same key.
func AuthTokenKeyHash(data map[string][]byte) (string, error) {
	privBlock, _ := pem.Decode(data[AuthTokenPrivateKey])
	pubBlock, _ := pem.Decode(data[AuthTokenPublicKey])
	if privBlock == nil || pubBlock == nil {
		return "", fmt.Errorf("keys %q and %q must each hold a PEM block", AuthTokenPrivateKey, AuthTokenPublicKey)
	}
	var priv *ecdsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(privBlock.Bytes); err == nil {
		priv, _ = k.(*ecdsa.PrivateKey)
	} else if k, err := x509.ParseECPrivateKey(privBlock.Bytes); err == nil {
		priv = k
	}
	if priv == nil || priv.Curve != elliptic.P256() {
		return "", fmt.Errorf("key %q is not an ECDSA P-256 private key (ES256)", AuthTokenPrivateKey)
	}
	pub, err := x509.ParsePKIXPublicKey(pubBlock.Bytes)
	if err != nil {
		return "", fmt.Errorf("key %q is not a PKIX public key: %w", AuthTokenPublicKey, err)
	}
	if !priv.PublicKey.Equal(pub) {
		return "", errors.New("the public key does not belong to the private key")
	}
	return Hash(string(pubBlock.Bytes)), nil
}
