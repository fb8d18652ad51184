package etcdcluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// keyPassword is the key of the root password in its Secret.
const keyPassword = "password"

// specError is a step failure the user must fix in the spec or in objects
// the spec names; its reason goes into the conditions.
type specError struct {
	reason, msg string
}

func (e *specError) Error() string { return e.msg }

// ensureAuth turns etcd authentication on once the cluster has a healthy
// quorum (root user with the password from the Secret, root role, auth
// enable), and afterwards keeps root's password equal to the Secret's (see
// credentials.go for how the operator authenticates and what it records).
// Every part is safe to repeat; auth switched off behind the operator's
// back is switched on again.
func (r *Reconciler) ensureAuth(ctx context.Context, p *pass) error {
	c := p.cluster
	if !c.AuthEnabled() {
		return nil
	}
	password, err := r.rootPassword(ctx, c)
	if err != nil {
		return err
	}
	if p.client == nil || !p.obs.quorate() {
		return nil
	}
	rec, _, err := r.readRecord(ctx, c)
	if err != nil {
		return err
	}
	on, err := p.client.AuthEnabled(ctx)
	if err != nil {
		return err
	}
	clusterID := fmt.Sprintf("%x", p.obs.clusterID)
	action := decideAuth(c.ClientTLS(), on, p.rootPassword, password, rec, clusterID)
	log.FromContext(ctx).V(1).Info("auth decision", "action", action, "authEnabled", on, "clientTLS", c.ClientTLS(),
		"recordedForClusterID", rec.ClusterID, "clusterID", clusterID, "authenticatedWithSecretPassword", p.rootPassword == password)
	applied := passwordRecord{Password: password, ClusterID: clusterID}
	switch action {
	case authEnable:
		if err := p.client.EnableAuth(ctx, password); err != nil {
			return err
		}
		if err := r.writeRecord(ctx, c, applied); err != nil {
			return err
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "AuthEnabled", "EnableAuth", "etcd authentication enabled; root password in secret %s", c.RootPasswordSecretName())
	case authChangePassword:
		if !c.ClientTLS() {
			// Record the new password as pending first: if the operator
			// stops after the change, the next pass still has it to try.
			if err := r.writeRecord(ctx, c, passwordRecord{Password: p.rootPassword, Pending: password, ClusterID: rec.ClusterID}); err != nil {
				return err
			}
		}
		if err := p.client.SetRootPassword(ctx, password); err != nil {
			return err
		}
		if err := r.writeRecord(ctx, c, applied); err != nil {
			return err
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "RootPasswordApplied", "SetRootPassword",
			"root password set to the one in secret %s", c.RootPasswordSecretName())
	case authRecord:
		if err := r.writeRecord(ctx, c, applied); err != nil {
			return err
		}
	}
	p.authEnabled = true
	return nil
}

// rootPassword reads the root password, generating its Secret when the
// spec names none. A generated Secret left by an earlier cluster of the
// same name (kept with its volumes) is adopted.
func (r *Reconciler) rootPassword(ctx context.Context, c *etcdv1.EtcdCluster) (string, error) {
	name := c.RootPasswordSecretName()
	s := &corev1.Secret{}
	err := r.reader(c.Spec.Auth.RootPasswordSecretName != "").Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s)
	switch {
	case apierrors.IsNotFound(err) && c.Spec.Auth.RootPasswordSecretName != "":
		return "", &specError{etcdv1.ReasonAuthSecretMissing, fmt.Sprintf("root password secret %s not found", name)}
	case apierrors.IsNotFound(err):
		return r.createPassword(ctx, c, name)
	case err != nil:
		return "", fmt.Errorf("reading secret %s: %w", name, err)
	}
	if c.Spec.Auth.RootPasswordSecretName == "" && s.Labels[etcdv1.LabelManagedBy] == etcdv1.ManagedByValue {
		// Generated: it lives as long as the member volumes.
		if err := r.keepWithVolumes(ctx, c, s); err != nil {
			return "", err
		}
	}
	pw := string(s.Data[keyPassword])
	if pw == "" {
		return "", &specError{etcdv1.ReasonAuthSecretMissing, fmt.Sprintf("secret %s has no %q key", name, keyPassword)}
	}
	return pw, nil
}

func (r *Reconciler) createPassword(ctx context.Context, c *etcdv1.EtcdCluster, name string) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating root password: %w", err)
	}
	pw := base64.RawURLEncoding.EncodeToString(b)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: c.Labels()},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{keyPassword: []byte(pw), "username": []byte("root")},
	}
	if err := r.setLifetime(c, s); err != nil {
		return "", err
	}
	if err := r.Create(ctx, s); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return "", errors.New("secret " + name + " exists but is not managed by this cluster")
		}
		return "", fmt.Errorf("creating secret %s: %w", name, err)
	}
	return pw, nil
}
