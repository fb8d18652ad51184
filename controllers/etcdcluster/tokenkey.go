package etcdcluster

// The JWT signing key of spec.auth.token.type jwt.
//
// Every member signs and verifies tokens with one ECDSA P-256 key, so a
// token one member issued is accepted by the others and after restarts.
// The operator generates the key once into <name>-auth-token-key and
// never changes it; the Secret lives as long as the member volumes do,
// like the generated root password (setLifetime), and a cluster recreated
// on kept volumes adopts it. The pod template's config hash includes a
// digest of the public key: a Secret deleted (and so regenerated) or
// replaced by the user restarts the members, one at a time, with the new
// key. A Secret that does not hold a usable key pair stops the pass before
// the StatefulSet is touched (AuthTokenKeyInvalid).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// ensureTokenKey makes sure a jwt cluster has its signing key Secret and
// records the key's digest in p.tokenKeyHash; simple tokens need none (a
// Secret left from an earlier jwt spec is kept, unused).
func (r *Reconciler) ensureTokenKey(ctx context.Context, p *pass) error {
	c := p.cluster
	p.tokenKeyHash = ""
	if c.AuthTokenType() != etcdv1.AuthTokenJWT {
		return nil
	}
	name := c.AuthTokenKeySecretName()
	s := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s)
	switch {
	case apierrors.IsNotFound(err):
		if s, err = r.createTokenKey(ctx, c); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("reading secret %s: %w", name, err)
	case s.Labels[etcdv1.LabelManagedBy] != etcdv1.ManagedByValue || s.Labels[etcdv1.LabelInstance] != c.Name:
		return &specError{etcdv1.ReasonAuthTokenKeyInvalid, fmt.Sprintf(
			"secret %s exists but was not made by the operator for this cluster (labels %s=%s, %s=%s expected); "+
				"rename or delete it: the operator keeps the JWT signing key there", name,
			etcdv1.LabelManagedBy, etcdv1.ManagedByValue, etcdv1.LabelInstance, c.Name)}
	default:
		if err := r.keepWithVolumes(ctx, c, s); err != nil {
			return err
		}
	}
	hash, err := render.AuthTokenKeyHash(s.Data)
	if err != nil {
		return &specError{etcdv1.ReasonAuthTokenKeyInvalid, fmt.Sprintf(
			"secret %s does not hold the JWT signing key: %v; members keep running with the key they started with, "+
				"and none is restarted until it is fixed (delete the Secret and the operator generates a new key, "+
				"then restarts the members with it)", name, err)}
	}
	p.tokenKeyHash = hash
	return nil
}

// createTokenKey generates the signing key Secret.
func (r *Reconciler) createTokenKey(ctx context.Context, c *etcdv1.EtcdCluster) (*corev1.Secret, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the JWT signing key: %w", err)
	}
	s, err := render.AuthTokenKeySecret(c, key)
	if err != nil {
		return nil, err
	}
	if err := r.setLifetime(c, s); err != nil {
		return nil, err
	}
	if err := r.Create(ctx, s); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Made since the cache was read (an earlier pass): use that one.
			got := &corev1.Secret{}
			if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s), got); err != nil {
				return nil, fmt.Errorf("reading secret %s: %w", s.Name, err)
			}
			return got, nil
		}
		return nil, fmt.Errorf("creating secret %s: %w", s.Name, err)
	}
	log.FromContext(ctx).V(1).Info("generated the JWT signing key", "secret", s.Name, "outlivesCluster", c.CredentialsOutliveCluster())
	return s, nil
}

// configHash is the pod template's render.AnnotationConfigHash: a digest
// of the options file and, with jwt tokens, of the signing key, so that a
// new key restarts every member.
func configHash(p *pass) string {
	opts := render.EtcdOptions(p.cluster)
	if p.tokenKeyHash == "" {
		return render.Hash(opts)
	}
	return render.Hash(opts + "\n# auth token key " + p.tokenKeyHash)
}
