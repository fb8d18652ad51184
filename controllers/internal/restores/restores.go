// Package restores holds what the EtcdCluster and EtcdRestore reconcilers
// both decide about an in-place restore: where its snapshot is, and
// whether the cluster has finished it.
package restores

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// Done reports whether the cluster reports the restore x done.
func Done(c *etcdv1.EtcdCluster, x *etcdv1.EtcdRestore) bool {
	st := c.Status.Restore
	return st != nil && st.RestoreID == x.Status.RestoreID && st.Done
}

// NotReadyError: the snapshot a restore names cannot be used yet (its
// EtcdBackup is missing or has not succeeded). Each reconciler reports it
// with a reason of its own kind.
type NotReadyError struct{ Msg string }

func (e *NotReadyError) Error() string { return e.Msg }

// Source reads the EtcdBackup an EtcdRestore names, or takes its direct
// location. It returns a *NotReadyError while the backup has not
// succeeded.
func Source(ctx context.Context, r client.Reader, x *etcdv1.EtcdRestore) (*render.RestoreSource, error) {
	if x.Spec.Source != nil {
		return &render.RestoreSource{Location: *x.Spec.Source, Key: x.Spec.Key, EncryptionKey: x.Spec.EncryptionKey, SkipHashCheck: x.Spec.SkipHashCheck}, nil
	}
	b := &etcdv1.EtcdBackup{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: x.Namespace, Name: x.Spec.BackupName}, b); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &NotReadyError{fmt.Sprintf("EtcdBackup %s to restore from not found", x.Spec.BackupName)}
		}
		return nil, fmt.Errorf("reading EtcdBackup %s: %w", x.Spec.BackupName, err)
	}
	if b.Status.Phase != etcdv1.BackupSucceeded {
		return nil, &NotReadyError{fmt.Sprintf("EtcdBackup %s to restore from is %q, not Succeeded", b.Name, b.Status.Phase)}
	}
	return &render.RestoreSource{Location: b.Spec.Destination, Key: b.Status.Key, EncryptionKey: b.Spec.EncryptionKey}, nil
}
