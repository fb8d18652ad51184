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
}

// neededSecrets lists the Secret keys the backup Job of spec reads, in the
// order they are checked: the S3 credentials (both keys), the S3 CA, the
// encryption key. A PVC destination needs no credentials. Pure.
func neededSecrets(spec etcdv1.EtcdBackupSpec) []secretKey {
	var out []secretKey
	if s3 := spec.Destination.S3; s3 != nil {
		out = append(out,
			secretKey{"S3 credentials", s3.CredentialsSecretName, s3AccessKeyID},
			secretKey{"S3 credentials", s3.CredentialsSecretName, s3SecretAccessKey})
		if s3.CA != nil {
			out = append(out, secretKey{"S3 CA", s3.CA.Name, s3.CA.Key})
		}
	}
	if k := spec.EncryptionKey; k != nil {
		out = append(out, secretKey{"encryption key", k.Name, k.Key})
	}
	return out
}

// missingSecret reads the Secrets of keys in namespace and says what the
// first missing one lacks ("S3 credentials Secret creds (key
// AWS_ACCESS_KEY_ID) not found in namespace ns", "encryption key Secret k
// has no key key"); empty when every one is there. Errors other than
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
		if _, ok := s.Data[k.key]; !ok {
			return fmt.Sprintf("%s Secret %s has no key %s", k.what, k.name, k.key), nil
		}
	}
	return "", nil
}
