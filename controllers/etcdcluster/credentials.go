package etcdcluster

// The root password and how the operator keeps authenticating as root.
//
// Two Secrets, both in the cluster's namespace:
//
//   - the password Secret (spec.auth.rootPasswordSecretName, or the
//     generated <name>-root-password): key "password" is the password root
//     should have. Users change root's password by changing this key.
//   - the record <name>-root-password-applied, written only by the
//     operator: "password" is the password last applied to etcd, "pending"
//     one being applied (written before the change, cleared after, so a
//     crash between the two never loses the working password), and
//     "cluster-id" the etcd cluster ID it was applied to (a restore makes a
//     new cluster ID, and its data carries the snapshot's password).
//
// The operator never writes into a Secret the user names (GitOps tools and
// external secret stores own those); its memory lives in the record. A
// password Secret that loses its "password" key does not lose the
// password: the generated Secret gets it back from the record; with a
// user's Secret the operator keeps using the record's and reports Degraded
// AuthSecretMissing (see rootPassword).
//
// Both the generated password Secret and the record live as long as the
// member volumes do: owned by the EtcdCluster (deleted with it) only when
// its claims are deleted with it (storage.whenDeleted: Delete, or an
// emptyDir medium); otherwise they have no owner, survive a delete, and a
// cluster recreated under the same name on the kept volumes adopts them.
//
// How the operator authenticates:
//   - TLS on: with the root client certificate (its CN is the etcd user),
//     whatever the data's password is. When the record does not say that
//     the Secret's password is applied to this cluster ID, it sets root's
//     password to it (after a restore, after a change of the Secret).
//   - TLS off: with a password. It tries, in order, the record's password,
//     the record's pending one, the Secret's, and, for a cluster made by
//     spec.bootstrap.restore from an EtcdBackup of another cluster, that
//     cluster's (its Secret's and its record's): the first etcd accepts is
//     used, and if it is not the Secret's, root's password is changed to
//     the Secret's. If etcd refuses them all, Available is False with reason
//     AuthRejected, naming the Secret to put the data's password into.

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Keys of the record Secret.
const (
	recordKeyPassword  = "password"
	recordKeyPending   = "pending"
	recordKeyClusterID = "cluster-id"
)

// passwordRecord is the operator's memory of what root's password is in etcd.
type passwordRecord struct {
	Password  string // last applied; empty when nothing was recorded
	Pending   string // being applied: etcd may already have it
	ClusterID string // etcd cluster ID (hex) Password was applied to
}

func recordFromSecret(s *corev1.Secret) passwordRecord {
	return passwordRecord{Password: string(s.Data[recordKeyPassword]), Pending: string(s.Data[recordKeyPending]),
		ClusterID: string(s.Data[recordKeyClusterID])}
}

func (p passwordRecord) data() map[string][]byte {
	d := map[string][]byte{recordKeyPassword: []byte(p.Password), recordKeyClusterID: []byte(p.ClusterID)}
	if p.Pending != "" {
		d[recordKeyPending] = []byte(p.Pending)
	}
	return d
}

// passwordCandidates lists the passwords to try, in order, without
// repeats or empty ones: the recorded one (what etcd most likely has), the
// pending one, the desired one, then those of a restore's source.
func passwordCandidates(desired string, rec passwordRecord, source []string) []string {
	var out []string
	for _, pw := range append([]string{rec.Password, rec.Pending, desired}, source...) {
		if pw != "" && !slices.Contains(out, pw) {
			out = append(out, pw)
		}
	}
	return out
}

// authAction is what the auth step does this pass.
type authAction int

const (
	authNothing        authAction = iota
	authEnable                    // create root with the desired password, enable auth
	authChangePassword            // set root's password to the desired one, then record it
	authRecord                    // etcd has the desired password: record it
)

func (a authAction) String() string {
	return [...]string{"nothing", "enable auth", "change root password", "record the applied password"}[a]
}

// decideAuth chooses the auth step's action. tls: the operator talks to
// etcd as root through its client certificate; enabled: etcd's auth status;
// used: the password the operator authenticated with (TLS off); clusterID:
// the observed etcd cluster ID (hex).
func decideAuth(tls, enabled bool, used, desired string, rec passwordRecord, clusterID string) authAction {
	switch {
	case !enabled:
		return authEnable
	case tls && (rec.Password != desired || rec.ClusterID != clusterID):
		// The certificate works whatever the password; a record made for
		// another cluster ID (before a restore) says nothing about this data.
		return authChangePassword
	case !tls && used != desired:
		return authChangePassword
	case rec.Password != desired || rec.ClusterID != clusterID || rec.Pending != "":
		return authRecord
	}
	return authNothing
}

// authRejectedError: etcd refused every password the operator has.
type authRejectedError struct {
	secret  string
	tried   int
	restore string // the restore's source cluster, if the cluster was restored
	cause   error
}

func (e *authRejectedError) Error() string {
	msg := fmt.Sprintf("etcd rejects the root password in Secret %s (key %q)", e.secret, keyPassword)
	if e.tried > 1 {
		msg += fmt.Sprintf(" and the %d other root password(s) the operator has", e.tried-1)
	}
	msg += ": the data on the member volumes was written under another root password"
	if e.restore != "" {
		msg += fmt.Sprintf(" (restored from a backup of %s)", e.restore)
	}
	return msg + fmt.Sprintf("; put that password into Secret %s, key %q: the operator then authenticates with it and keeps it. "+
		"Until then the operator cannot observe or change the members (the cause: %v)", e.secret, keyPassword, e.cause)
}

func (e *authRejectedError) Unwrap() error { return e.cause }

// readRecord reads the operator's password record; a missing one is empty.
func (r *Reconciler) readRecord(ctx context.Context, c *etcdv1.EtcdCluster) (passwordRecord, *corev1.Secret, error) {
	s := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.RootPasswordRecordSecretName()}, s)
	if apierrors.IsNotFound(err) {
		return passwordRecord{}, nil, nil
	}
	if err != nil {
		return passwordRecord{}, nil, fmt.Errorf("reading secret %s: %w", c.RootPasswordRecordSecretName(), err)
	}
	if err := r.keepWithVolumes(ctx, c, s); err != nil {
		return passwordRecord{}, nil, err
	}
	return recordFromSecret(s), s, nil
}

// writeRecord creates or replaces the operator's password record.
func (r *Reconciler) writeRecord(ctx context.Context, c *etcdv1.EtcdCluster, rec passwordRecord) error {
	_, s, err := r.readRecord(ctx, c)
	if err != nil {
		return err
	}
	if s == nil {
		s = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: c.RootPasswordRecordSecretName(), Namespace: c.Namespace, Labels: c.Labels()},
			Type:       corev1.SecretTypeOpaque,
			Data:       rec.data(),
		}
		if err := r.setLifetime(c, s); err != nil {
			return err
		}
		if err := r.Create(ctx, s); err != nil {
			return fmt.Errorf("creating secret %s: %w", s.Name, err)
		}
		return nil
	}
	s.Data = rec.data()
	if err := r.Update(ctx, s); err != nil {
		return fmt.Errorf("updating secret %s: %w", s.Name, err)
	}
	return nil
}

// setLifetime sets the owner references of a credentials Secret the
// operator made: a controller reference to the cluster only when the
// member volumes go with it (see EtcdCluster.CredentialsOutliveCluster);
// references to an earlier EtcdCluster of the same name are dropped.
func (r *Reconciler) setLifetime(c *etcdv1.EtcdCluster, s *corev1.Secret) error {
	refs := slices.DeleteFunc(slices.Clone(s.OwnerReferences), func(o metav1.OwnerReference) bool {
		return o.Kind == "EtcdCluster" && o.APIVersion == etcdv1.GroupVersion.String()
	})
	s.OwnerReferences = refs
	if c.CredentialsOutliveCluster() {
		return nil
	}
	return controllerutil.SetControllerReference(c, s, r.Scheme)
}

// keepWithVolumes brings the owner references of an existing credentials
// Secret in line with storage.whenDeleted (it may have changed, or the
// Secret was adopted from an earlier cluster of the same name).
func (r *Reconciler) keepWithVolumes(ctx context.Context, c *etcdv1.EtcdCluster, s *corev1.Secret) error {
	before := s.DeepCopy()
	if err := r.setLifetime(c, s); err != nil {
		return err
	}
	if slices.EqualFunc(before.OwnerReferences, s.OwnerReferences, func(a, b metav1.OwnerReference) bool { return a.UID == b.UID }) {
		return nil
	}
	if err := r.Patch(ctx, s, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("setting the owner of secret %s: %w", s.Name, err)
	}
	return nil
}

// restoreSourcePasswords are the root passwords of the cluster a new
// cluster was restored from (spec.bootstrap.restore.backupName): the
// source's password Secret and its record. The second result names the
// source cluster ("" when the cluster was not restored from another one).
func (r *Reconciler) restoreSourcePasswords(ctx context.Context, c *etcdv1.EtcdCluster) ([]string, string) {
	if c.Spec.Bootstrap == nil || c.Spec.Bootstrap.Restore == nil || c.Spec.Bootstrap.Restore.BackupName == "" {
		return nil, ""
	}
	b := &etcdv1.EtcdBackup{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.Spec.Bootstrap.Restore.BackupName}, b); err != nil {
		return nil, ""
	}
	srcName := b.Spec.ClusterName
	if srcName == "" || srcName == c.Name {
		return nil, ""
	}
	src := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: srcName, Namespace: c.Namespace}}
	if err := r.Get(ctx, client.ObjectKeyFromObject(src), src); err != nil && !apierrors.IsNotFound(err) {
		return nil, srcName
	}
	var out []string
	for _, name := range []string{src.RootPasswordRecordSecretName(), src.RootPasswordSecretName()} {
		s := &corev1.Secret{}
		if err := r.reader(true).Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s); err != nil {
			continue
		}
		for _, k := range []string{recordKeyPassword, recordKeyPending} {
			if pw := string(s.Data[k]); pw != "" {
				out = append(out, pw)
			}
		}
	}
	return out, srcName
}

// credentialsSecretOwner maps a credentials Secret that outlives its
// cluster (no owner reference, so Owns does not see it) to the cluster it
// belongs to, by its instance label: a changed password is applied at once,
// and a changed JWT signing key rolled out, not at the next periodic pass.
func credentialsSecretOwner(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	name := l[etcdv1.LabelInstance]
	if name == "" || l[etcdv1.LabelManagedBy] != etcdv1.ManagedByValue || metav1.GetControllerOf(o) != nil {
		return nil
	}
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if o.GetName() != c.RootPasswordSecretName() && o.GetName() != c.RootPasswordRecordSecretName() && o.GetName() != c.AuthTokenKeySecretName() {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
}

// errNoCandidate: no password to try (cannot happen once the password
// Secret is read; kept as a clear error rather than a panic).
var errNoCandidate = errors.New("no root password to authenticate with")
