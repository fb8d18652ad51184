package etcdbackup

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Keys of the credentials Secret of an S3 destination (the backup Job's
// AWS_* environment, see render.BackupJob).
const (
	s3AccessKeyID     = "AWS_ACCESS_KEY_ID"
	s3SecretAccessKey = "AWS_SECRET_ACCESS_KEY"
)

// secretKey is a key of a user's Secret the backup Job reads: what it is
// for, the Secret's name and the key.
type secretKey struct {
	what, name, key string
	// onlyWith, if set, makes key optional: it is needed only when the
	// Secret has onlyWith (tls.key goes with tls.crt, and back).
	onlyWith string
}

// neededSecrets lists the Secret keys the backup Job of spec reads, in the
// order they are checked: those of an external source (its TLS Secret's
// ca.crt, and tls.crt and tls.key both or neither; its auth Secret's
// username and password), the S3 credentials (both keys), the S3 CA, the
// encryption key. A PVC destination needs no credentials. Pure.
func neededSecrets(spec etcdv1.EtcdBackupSpec) []secretKey {
	var out []secretKey
	if ext := spec.External; ext != nil {
		if t := ext.TLS; t != nil {
			const what = "external etcd TLS"
			out = append(out,
				secretKey{what: what, name: t.SecretName, key: etcdv1.ExternalTLSCAKey},
				secretKey{what: what, name: t.SecretName, key: etcdv1.ExternalTLSKeyKey, onlyWith: etcdv1.ExternalTLSCertKey},
				secretKey{what: what, name: t.SecretName, key: etcdv1.ExternalTLSCertKey, onlyWith: etcdv1.ExternalTLSKeyKey})
		}
		if a := ext.Auth; a != nil {
			const what = "external etcd auth"
			out = append(out,
				secretKey{what: what, name: a.SecretName, key: etcdv1.ExternalAuthUsernameKey},
				secretKey{what: what, name: a.SecretName, key: etcdv1.ExternalAuthPasswordKey})
		}
	}
	if s3 := spec.Destination.S3; s3 != nil {
		if s3.CredentialsSecretName != "" { // else webIdentity or instanceRole: no Secret
			out = append(out,
				secretKey{what: "S3 credentials", name: s3.CredentialsSecretName, key: s3AccessKeyID},
				secretKey{what: "S3 credentials", name: s3.CredentialsSecretName, key: s3SecretAccessKey})
		}
		if s3.CA != nil {
			out = append(out, secretKey{what: "S3 CA", name: s3.CA.Name, key: s3.CA.Key})
		}
	}
	if k := spec.EncryptionKey; k != nil {
		out = append(out, secretKey{what: "encryption key", name: k.Name, key: k.Key})
	}
	return out
}

// missingSecret reads the Secrets of keys in namespace and says what the
// first missing one lacks ("S3 credentials Secret creds (key
// AWS_ACCESS_KEY_ID) not found in namespace ns", "encryption key Secret k
// has no key key", "external etcd TLS Secret t has tls.crt but no
// tls.key: ..."); empty when every one is there. Errors other than
// NotFound are returned.
func missingSecret(ctx context.Context, r client.Reader, namespace string, keys []secretKey) (string, error) {
	read := map[string]*corev1.Secret{}
	for _, k := range keys {
		s, ok := read[k.name]
		if !ok {
			s = &corev1.Secret{}
			if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: k.name}, s); err != nil {
				if !apierrors.IsNotFound(err) {
					return "", fmt.Errorf("reading %s Secret %s: %w", k.what, k.name, err)
				}
				s = nil
			}
			read[k.name] = s
		}
		if s == nil {
			return fmt.Sprintf("%s Secret %s (key %s) not found in namespace %s", k.what, k.name, k.key, namespace), nil
		}
		if k.onlyWith != "" {
			if _, with := s.Data[k.onlyWith]; !with {
				continue
			}
			if _, ok := s.Data[k.key]; !ok {
				return fmt.Sprintf("%s Secret %s has %s but no %s: a client certificate needs both (or give neither, "+
					"for an etcd that does not check client certificates)", k.what, k.name, k.onlyWith, k.key), nil
			}
			continue
		}
		if _, ok := s.Data[k.key]; !ok {
			return fmt.Sprintf("%s Secret %s has no key %s", k.what, k.name, k.key), nil
		}
	}
	return "", nil
}
