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
	password, missing, err := r.rootPassword(ctx, c)
	if err != nil {
		return err
	}
	p.passwordKeyMissing = missing
	if p.client == nil || !p.obs.quorate() {
		return nil
	}
	if missing != nil && p.rootPassword != "" {
		// Keep whatever etcd accepted: nothing to change to.
		password = p.rootPassword
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
//
// A Secret without a "password" key (emptied by hand, or by a tool that
// syncs it) never makes the operator lose the password etcd has: the
// record (<name>-root-password-applied, see credentials.go) still holds
// the one last applied.
//   - The generated Secret is the operator's own: its key is restored from
//     the record, with a Warning event AuthSecretMissing saying so.
//   - A Secret the user names is never written: the record's password is
//     returned, root's password is left as it is, and missing (reason
//     AuthSecretMissing) says what is wrong and what to do; the caller
//     reports it in Degraded.
//   - With nothing recorded (auth was never enabled) there is no password
//     at all: the error is a *specError with reason AuthSecretMissing.
func (r *Reconciler) rootPassword(ctx context.Context, c *etcdv1.EtcdCluster) (pw string, missing *specError, err error) {
	name := c.RootPasswordSecretName()
	s := &corev1.Secret{}
	err = r.reader(c.Spec.Auth.RootPasswordSecretName != "").Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s)
	switch {
	case apierrors.IsNotFound(err) && c.Spec.Auth.RootPasswordSecretName != "":
		return "", nil, &specError{etcdv1.ReasonAuthSecretMissing, fmt.Sprintf("root password secret %s not found", name)}
	case apierrors.IsNotFound(err):
		pw, err := r.createPassword(ctx, c, name)
		return pw, nil, err
	case err != nil:
		return "", nil, fmt.Errorf("reading secret %s: %w", name, err)
	}
	generated := c.Spec.Auth.RootPasswordSecretName == "" && s.Labels[etcdv1.LabelManagedBy] == etcdv1.ManagedByValue
	if generated {
		// Generated: it lives as long as the member volumes.
		if err := r.keepWithVolumes(ctx, c, s); err != nil {
			return "", nil, err
		}
	}
	if pw := string(s.Data[keyPassword]); pw != "" {
		return pw, nil, nil
	}
	return r.passwordKeyMissing(ctx, c, s, generated)
}

// passwordKeyMissing is rootPassword for a password Secret s without a
// "password" key (see rootPassword).
func (r *Reconciler) passwordKeyMissing(ctx context.Context, c *etcdv1.EtcdCluster, s *corev1.Secret, generated bool) (string, *specError, error) {
	if generated {
		// The cache may not have seen a restore made by the last pass.
		fresh := &corev1.Secret{}
		if err := r.reader(true).Get(ctx, client.ObjectKeyFromObject(s), fresh); err != nil {
			return "", nil, fmt.Errorf("reading secret %s: %w", s.Name, err)
		}
		if pw := string(fresh.Data[keyPassword]); pw != "" {
			return pw, nil, nil
		}
	}
	rec, _, err := r.readRecord(ctx, c)
	if err != nil {
		return "", nil, err
	}
	if rec.Password == "" {
		return "", nil, &specError{etcdv1.ReasonAuthSecretMissing, fmt.Sprintf("secret %s has no %q key and no root password was applied to etcd yet: "+
			"put the root password into key %q of secret %s", s.Name, keyPassword, keyPassword, s.Name)}
	}
	if generated {
		patch := client.MergeFrom(s.DeepCopy())
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[keyPassword] = []byte(rec.Password)
		if err := r.Patch(ctx, s, patch); err != nil {
			return "", nil, fmt.Errorf("restoring key %q of secret %s: %w", keyPassword, s.Name, err)
		}
		log.FromContext(ctx).Info("restored the root password secret's key from the record", "secret", s.Name, "record", c.RootPasswordRecordSecretName())
		r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, etcdv1.ReasonAuthSecretMissing, "RestoreRootPassword",
			"secret %s had no %q key; the operator put back the root password last applied to etcd (from secret %s); to change root's password, set a new one in key %q",
			s.Name, keyPassword, c.RootPasswordRecordSecretName(), keyPassword)
		return rec.Password, nil, nil
	}
	return rec.Password, &specError{etcdv1.ReasonAuthSecretMissing, fmt.Sprintf("secret %s has no %q key: the operator keeps using the root password "+
		"last applied to etcd (recorded in secret %s) and changes nothing; put the root password into key %q of secret %s "+
		"(the one etcd has is in key %q of secret %s)", s.Name, keyPassword, c.RootPasswordRecordSecretName(), keyPassword, s.Name,
		recordKeyPassword, c.RootPasswordRecordSecretName())}, nil
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
