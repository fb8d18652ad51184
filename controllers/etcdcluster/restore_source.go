package etcdcluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/identity"
	"quorum.dev/etcd-operator/controllers/render"
)

// resolveRestore turns spec.bootstrap.restore into the snapshot location
// the members' restore init container reads. A new cluster waits, with a
// condition saying why, until its backup has succeeded. Once the cluster
// has formed the snapshot no longer matters: if its EtcdBackup is gone, the
// init container is simply dropped.
func (r *Reconciler) resolveRestore(ctx context.Context, p *pass) error {
	if err := r.resolveRestoreSource(ctx, p); err != nil || p.restore == nil {
		return err
	}
	if err := r.checkRestoreServiceAccount(ctx, p); err != nil {
		return err
	}
	return r.resolveSessionToken(ctx, p.cluster.Namespace, p.restore)
}

// checkRestoreServiceAccount stops the pass before the members, with a
// *specError (Degraded, reason ServiceAccountMissing), while a restore is
// being carried out (a new cluster's bootstrap, an in-place restore) from
// a location whose ServiceAccount does not exist: the StatefulSet could
// create no member pod, and nothing on a pod would say why. A formed
// cluster that only keeps the restore's init container, and the undo of
// a failed in-place restore, are not held back.
func (r *Reconciler) checkRestoreServiceAccount(ctx context.Context, p *pass) error {
	var restoring bool
	if p.inPlace != nil {
		// An undo (the members going back to their old template) is not held back.
		restoring = !rollingBack(p.cluster, p.inPlace)
	} else {
		restoring = p.boot.State != render.StateExisting
	}
	if !restoring {
		return nil
	}
	missing, err := identity.MissingServiceAccount(ctx, r.reader(true), p.cluster.Namespace, p.restore.Location)
	if err != nil || missing == "" {
		return err
	}
	log.FromContext(ctx).V(1).Info("restore decision: waiting for the restore location's ServiceAccount", "inPlace", p.inPlace != nil)
	return &specError{etcdv1.ReasonServiceAccountMissing, fmt.Sprintf("%s; no member is started or stopped for the restore until it exists "+
		"(checked again every %s)", missing, requeueSpecError)}
}

// resolveSessionToken sets src.SessionToken when the S3 credentials
// Secret of src holds AWS_SESSION_TOKEN (temporary keys), so that the
// members' restore init container passes it. Only then: the templates of
// clusters restored with long-lived keys stay as they were (an operator
// upgrade restarts nothing). A missing Secret is left to the init
// container, whose environment names it.
func (r *Reconciler) resolveSessionToken(ctx context.Context, namespace string, src *render.RestoreSource) error {
	s3 := src.Location.S3
	if s3 == nil || s3.CredentialsSecretName == "" {
		return nil
	}
	sec := &corev1.Secret{}
	err := r.reader(true).Get(ctx, client.ObjectKey{Namespace: namespace, Name: s3.CredentialsSecretName}, sec)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading S3 credentials Secret %s: %w", s3.CredentialsSecretName, err)
	}
	_, src.SessionToken = sec.Data[render.S3SessionTokenKey]
	return nil
}

// resolveRestoreSource sets p.restore from an in-place restore or
// spec.bootstrap.restore.
func (r *Reconciler) resolveRestoreSource(ctx context.Context, p *pass) error {
	c := p.cluster
	if inPlace, err := r.resolveInPlaceRestore(ctx, p); inPlace || err != nil {
		return err
	}
	if c.Spec.Bootstrap == nil || c.Spec.Bootstrap.Restore == nil {
		return nil
	}
	rs := c.Spec.Bootstrap.Restore
	if rs.Source != nil {
		p.restore = &render.RestoreSource{Location: *rs.Source, Key: rs.Key, EncryptionKey: rs.EncryptionKey, SkipHashCheck: rs.SkipHashCheck}
		return nil
	}
	b := &etcdv1.EtcdBackup{}
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: rs.BackupName}, b)
	formed := p.boot.State == render.StateExisting
	switch {
	case apierrors.IsNotFound(err) && formed:
		return nil
	case apierrors.IsNotFound(err):
		b = nil
	case err != nil:
		return fmt.Errorf("reading EtcdBackup %s: %w", rs.BackupName, err)
	}
	if !formed {
		if werr := restoreWait(rs.BackupName, b, r.now().Sub(c.CreationTimestamp.Time)); werr != nil {
			return werr
		}
	}
	p.restore = &render.RestoreSource{Location: b.Spec.Destination, Key: b.Status.Key, EncryptionKey: b.Spec.EncryptionKey}
	return nil
}

// restoreSourceGrace is how long a new cluster waits, Progressing, for the
// EtcdBackup it restores from to appear (created with it, or by a tool
// applying both at once) before that is Degraded.
const restoreSourceGrace = time.Minute

// restoreWait says whether a cluster not formed yet, age old, can start
// from EtcdBackup name (nil: not found). A backup that has not finished
// (Pending, Running, no phase yet), or that does not exist yet within
// restoreSourceGrace, is a planned wait: a *waitError (Progressing). A
// Failed backup, or one still missing after the grace, is a *specError
// (Degraded). nil: the backup Succeeded. Pure.
func restoreWait(name string, b *etcdv1.EtcdBackup, age time.Duration) error {
	switch {
	case b == nil && age < restoreSourceGrace:
		return &waitError{etcdv1.ReasonRestoreSourcePending, fmt.Sprintf(
			"waiting for EtcdBackup %s to restore from: not found yet; no member starts until it exists and has succeeded", name)}
	case b == nil:
		return &specError{etcdv1.ReasonRestoreSourceNotReady, fmt.Sprintf(
			"EtcdBackup %s to restore from not found (waited %s): create it, or delete this cluster and recreate it from another backup (spec.bootstrap is immutable)", name, restoreSourceGrace)}
	case b.Status.Phase == etcdv1.BackupSucceeded:
		return nil
	case b.Status.Phase == etcdv1.BackupFailed:
		return &specError{etcdv1.ReasonRestoreSourceNotReady, fmt.Sprintf(
			"EtcdBackup %s to restore from is Failed: no member starts; delete this cluster and recreate it from a backup that succeeded (spec.bootstrap is immutable)", name)}
	default:
		phase := string(b.Status.Phase)
		if phase == "" {
			phase = "not started"
		}
		return &waitError{etcdv1.ReasonRestoreSourcePending, fmt.Sprintf(
			"waiting for EtcdBackup %s to restore from: it is %s; the members start once it has succeeded", name, phase)}
	}
}

// waitError is a step that waits for something planned to finish (a
// backup to restore from that is still running): the pass stops there,
// Progressing carries its reason and message, and it is not Degraded.
type waitError struct {
	reason, msg string
}

func (e *waitError) Error() string { return e.msg }
