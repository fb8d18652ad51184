package etcdcluster

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// resolveRestore turns spec.bootstrap.restore into the snapshot location
// the members' restore init container reads. A new cluster waits, with a
// condition saying why, until its backup has succeeded. Once the cluster
// has formed the snapshot no longer matters: if its EtcdBackup is gone, the
// init container is simply dropped.
func (r *Reconciler) resolveRestore(ctx context.Context, p *pass) error {
	c := p.cluster
	if inPlace, err := r.resolveInPlaceRestore(ctx, p); inPlace || err != nil {
		return err
	}
	if c.Spec.Bootstrap == nil || c.Spec.Bootstrap.Restore == nil {
		return nil
	}
	rs := c.Spec.Bootstrap.Restore
	if rs.Source != nil {
		p.restore = &render.RestoreSource{Location: *rs.Source, Key: rs.Key, EncryptionKey: rs.EncryptionKey}
		return nil
	}
	b := &etcdv1.EtcdBackup{}
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: rs.BackupName}, b)
	formed := p.boot.State == render.StateExisting
	switch {
	case apierrors.IsNotFound(err) && formed:
		return nil
	case apierrors.IsNotFound(err):
		return &specError{etcdv1.ReasonRestoreSourceNotReady, fmt.Sprintf("EtcdBackup %s to restore from not found", rs.BackupName)}
	case err != nil:
		return fmt.Errorf("reading EtcdBackup %s: %w", rs.BackupName, err)
	case b.Status.Phase != etcdv1.BackupSucceeded && !formed:
		return &specError{etcdv1.ReasonRestoreSourceNotReady, fmt.Sprintf("EtcdBackup %s to restore from is %q, not Succeeded", rs.BackupName, b.Status.Phase)}
	}
	p.restore = &render.RestoreSource{Location: b.Spec.Destination, Key: b.Status.Key, EncryptionKey: b.Spec.EncryptionKey}
	return nil
}
