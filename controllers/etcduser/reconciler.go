// Package etcduser holds the EtcdUser reconciler: for each EtcdUser it
// makes an etcd user and role (quorum-user-<name>) on the named cluster,
// keeps the role's permissions equal to spec.permissions, writes the
// credentials Secret (<name>-etcd-credentials: endpoints, ca.crt and a
// client certificate or a password), renews the certificate, and on
// delete removes the user and the role.
package etcduser

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/internal/conditions"
	"quorum.dev/etcd-operator/controllers/internal/rootclient"
	"quorum.dev/etcd-operator/controllers/pki"
	"quorum.dev/etcd-operator/controllers/render"
)

// Finalizer keeps an EtcdUser until its etcd user and role are removed.
const Finalizer = "etcd.quorum.dev/etcd-user"

// requeueWait: how soon to look again while the cluster is missing, not
// available, or etcd refused a call.
const requeueWait = 20 * time.Second

// revokeGrace: how long a deleted EtcdUser waits for its cluster to answer
// before it is let go without revoking (the user stays in etcd's data;
// a Warning event says so). A cluster that no longer exists is not waited
// for at all: its data, if kept, is a new cluster's business.
const revokeGrace = 5 * time.Minute

// Event reasons.
const (
	eventRevoked    = "UserRevoked"
	eventNotRevoked = "UserNotRevoked"
	eventIssued     = "CredentialsIssued"
)

// Reconciler keeps each EtcdUser's etcd user, role and Secret.
type Reconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	Render   render.Options
	// APIReader reads Secrets the cache does not hold (user-supplied TLS
	// and root password Secrets).
	APIReader client.Reader
	// Clients holds one root client per cluster (its own cache: the
	// EtcdCluster reconciler's authenticates otherwise with TLS off).
	Clients *etcdclient.ClientCache
	// Clock is time.Now unless a test sets it.
	Clock func() time.Time
}

// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdusers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdusers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdusers/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete

// notReady is a reason the user cannot be made now; the pass ends with
// Ready False and looks again after requeue (0: when something changes).
type notReady struct {
	reason, msg string
	requeue     time.Duration
}

func (e *notReady) Error() string { return e.msg }

// Reconcile: finalizer, then the steps (cluster usable → credentials →
// etcd user and role → Secret), then one status update. Ready is True
// only when every step succeeded; observedGeneration moves only then.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	u := &etcdv1.EtcdUser{}
	if err := r.Get(ctx, req.NamespacedName, u); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !u.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, u)
	}
	if controllerutil.AddFinalizer(u, Finalizer) {
		if err := r.Update(ctx, u); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
	}
	before := u.Status.DeepCopy()
	res, err := r.ensure(ctx, u)
	var nr *notReady
	switch {
	case err == nil:
		conditions.Set(&u.Status.Conditions, u.Generation, etcdv1.UserConditionReady, true, etcdv1.ReasonUserReady,
			fmt.Sprintf("user %s with role %s; credentials in Secret %s", u.Name, u.RoleName(), u.CredentialsSecretName()))
		u.Status.ObservedGeneration = u.Generation
	case errors.As(err, &nr):
		conditions.Set(&u.Status.Conditions, u.Generation, etcdv1.UserConditionReady, false, nr.reason, nr.msg)
		res, err = ctrl.Result{RequeueAfter: nr.requeue}, nil
	default:
		conditions.Set(&u.Status.Conditions, u.Generation, etcdv1.UserConditionReady, false, etcdv1.ReasonEtcdError,
			err.Error()+"; retrying")
	}
	if !equality.Semantic.DeepEqual(before, &u.Status) {
		if uerr := r.Status().Update(ctx, u); uerr != nil && !apierrors.IsConflict(uerr) {
			return ctrl.Result{}, fmt.Errorf("updating status: %w", uerr)
		}
	}
	return res, err
}

// ensure carries out the spec; a *notReady error is a state to report.
func (r *Reconciler) ensure(ctx context.Context, u *etcdv1.EtcdUser) (ctrl.Result, error) {
	c, err := r.usableCluster(ctx, u)
	if err != nil {
		return ctrl.Result{}, err
	}
	cl, err := r.connect(ctx, c)
	if err != nil {
		return ctrl.Result{}, err
	}
	if on, err := cl.AuthEnabled(ctx); err != nil {
		return ctrl.Result{}, &notReady{etcdv1.ReasonClusterUnavailable, fmt.Sprintf("cannot read the auth status of cluster %s: %v; retrying", c.Name, err), requeueWait}
	} else if !on {
		return ctrl.Result{}, &notReady{etcdv1.ReasonAuthDisabled, fmt.Sprintf("etcd of cluster %s has not turned authentication on yet (the operator does once the cluster has formed); waiting", c.Name), requeueWait}
	}
	var ca pki.Pair
	var trust []byte
	if c.ClientTLS() {
		if ca, trust, err = r.readCA(ctx, c); err != nil {
			return ctrl.Result{}, err
		}
	}
	secret := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: u.Namespace, Name: u.CredentialsSecretName()}, secret); apierrors.IsNotFound(err) {
		secret = nil
	} else if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading secret %s: %w", u.CredentialsSecretName(), err)
	}
	creds, err := desiredCredentials(u, c, r.Render.Domain(), secret, ca, trust, r.now())
	if err != nil {
		return ctrl.Result{}, err
	}
	want := etcdUser(u, creds)
	log.FromContext(ctx).V(1).Info("ensuring etcd user", "user", want.Name, "role", want.Role, "ranges", len(want.Permissions), "newPassword", want.ResetPassword)
	if err := cl.EnsureUser(ctx, want); err != nil {
		if etcdclient.AuthRejected(err) {
			r.Clients.Forget(types.NamespacedName{Namespace: c.Namespace, Name: c.Name})
		}
		return ctrl.Result{}, err
	}
	if err := r.writeSecret(ctx, u, c, secret, creds.data); err != nil {
		return ctrl.Result{}, err
	}
	u.Status.SecretName = u.CredentialsSecretName()
	u.Status.CertificateNotAfter = nil
	if creds.notAfter.IsZero() {
		return ctrl.Result{}, nil
	}
	u.Status.CertificateNotAfter = &metav1.Time{Time: creds.notAfter}
	// Look again when the certificate is due for renewal.
	return ctrl.Result{RequeueAfter: max(creds.notAfter.Add(-certRenewBefore).Sub(r.now()), time.Second)}, nil
}

// usableCluster returns the cluster once a user can be made on it.
func (r *Reconciler) usableCluster(ctx context.Context, u *etcdv1.EtcdUser) (*etcdv1.EtcdCluster, error) {
	c := &etcdv1.EtcdCluster{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: u.Namespace, Name: u.Spec.ClusterName}, c); apierrors.IsNotFound(err) {
		return nil, &notReady{etcdv1.ReasonClusterNotFound, fmt.Sprintf("EtcdCluster %s not found in namespace %s; waiting for it", u.Spec.ClusterName, u.Namespace), 0}
	} else if err != nil {
		return nil, fmt.Errorf("reading cluster %s: %w", u.Spec.ClusterName, err)
	}
	switch {
	case !c.DeletionTimestamp.IsZero():
		return nil, &notReady{etcdv1.ReasonClusterNotFound, fmt.Sprintf("EtcdCluster %s is being deleted", c.Name), 0}
	case u.Name == c.Name+"-server" || u.Name == c.Name+"-peer":
		return nil, &notReady{etcdv1.ReasonNameReserved, fmt.Sprintf("%s is the common name of a certificate of EtcdCluster %s (its members present it): etcd would take them as this user; choose another name", u.Name, c.Name), 0}
	case !c.AuthEnabled():
		return nil, &notReady{etcdv1.ReasonAuthDisabled, fmt.Sprintf("EtcdCluster %s has spec.auth.enabled false: without authentication etcd checks no permission, so no user is made; enable auth on the cluster", c.Name), 0}
	case u.AuthenticationMethod() == etcdv1.AuthenticationCertificate && !c.TLSEnabled():
		return nil, &notReady{etcdv1.ReasonCertificateAuthUnavailable, fmt.Sprintf("EtcdCluster %s has TLS off: certificate authentication needs TLS; use authentication password", c.Name), 0}
	case c.TLSEnabled() && c.UserCertificates():
		return nil, &notReady{etcdv1.ReasonCertificateAuthUnavailable, fmt.Sprintf("EtcdCluster %s uses certificates it does not issue (spec.tls.serverSecretName or spec.tls.certManager): the operator holds no CA key to issue user certificates", c.Name), 0}
	case c.TLSEnabled() && !c.ClientTLS():
		return nil, &notReady{etcdv1.ReasonClusterUnavailable, fmt.Sprintf("EtcdCluster %s is migrating to TLS; waiting until members serve https", c.Name), requeueWait}
	case !meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable):
		return nil, &notReady{etcdv1.ReasonClusterUnavailable, fmt.Sprintf("EtcdCluster %s is not Available; waiting", c.Name), requeueWait}
	}
	return c, nil
}

// connect returns the cached root client of the cluster: the root client
// certificate with TLS, else root's password as last applied to etcd (the
// operator's record), or the password Secret's before one is recorded.
func (r *Reconciler) connect(ctx context.Context, c *etcdv1.EtcdCluster) (etcdclient.Client, error) {
	cfg, version, err := rootclient.Config(ctx, r.APIReader, c, r.Render.Domain(), c.DesiredReplicas())
	if err != nil {
		return nil, &notReady{etcdv1.ReasonClusterUnavailable, err.Error() + "; retrying", requeueWait}
	}
	if !c.ClientTLS() {
		pw := ""
		for _, name := range []string{c.RootPasswordRecordSecretName(), c.RootPasswordSecretName()} {
			s := &corev1.Secret{}
			if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s); err == nil && len(s.Data["password"]) > 0 {
				pw = string(s.Data["password"])
				break
			}
		}
		if pw == "" {
			return nil, &notReady{etcdv1.ReasonClusterUnavailable, fmt.Sprintf("no root password of cluster %s yet (Secret %s); waiting", c.Name, c.RootPasswordSecretName()), requeueWait}
		}
		cfg.Username, cfg.Password = etcdclient.RootUser, pw
		version = "password:" + render.Hash(pw)
	}
	return r.Clients.Get(types.NamespacedName{Namespace: c.Namespace, Name: c.Name}, version, cfg)
}

// readCA reads the cluster's CA that signs (certificate and key) and the
// CAs its members trust (ca.crt: both CAs during a CA rotation).
func (r *Reconciler) readCA(ctx context.Context, c *etcdv1.EtcdCluster) (pki.Pair, []byte, error) {
	s := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.CASecretName()}, s); err != nil {
		return pki.Pair{}, nil, &notReady{etcdv1.ReasonClusterUnavailable, fmt.Sprintf("CA secret %s of cluster %s not available: %v; retrying", c.CASecretName(), c.Name, err), requeueWait}
	}
	ca := pki.Pair{CertPEM: s.Data[corev1.TLSCertKey], KeyPEM: s.Data[corev1.TLSPrivateKeyKey]}
	if _, _, err := pki.Parse(ca); err != nil {
		return pki.Pair{}, nil, fmt.Errorf("secret %s does not hold a usable CA: %w", s.Name, err)
	}
	return ca, s.Data[rootclient.KeyCACert], nil
}

// writeSecret creates the credentials Secret, owned by the EtcdUser (it
// goes with it), or replaces its data when it changed.
func (r *Reconciler) writeSecret(ctx context.Context, u *etcdv1.EtcdUser, c *etcdv1.EtcdCluster, existing *corev1.Secret, data map[string][]byte) error {
	if existing != nil {
		if sameData(existing, data) {
			return nil
		}
		existing.Data = data
		if err := r.Update(ctx, existing); err != nil {
			return fmt.Errorf("updating secret %s: %w", existing.Name, err)
		}
		r.Recorder.Eventf(u, existing, corev1.EventTypeNormal, eventIssued, "UpdateCredentials", "updated the credentials in secret %s", existing.Name)
		return nil
	}
	labels := c.Labels()
	labels[etcdv1.LabelComponent] = "etcd-user"
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: u.CredentialsSecretName(), Namespace: u.Namespace, Labels: labels},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	if err := controllerutil.SetControllerReference(u, s, r.Scheme); err != nil {
		return err
	}
	if err := r.Create(ctx, s); err != nil {
		return fmt.Errorf("creating secret %s: %w", s.Name, err)
	}
	r.Recorder.Eventf(u, s, corev1.EventTypeNormal, eventIssued, "IssueCredentials", "wrote the credentials to secret %s", s.Name)
	return nil
}

// finalize removes the etcd user and role, then the finalizer. A cluster
// that is gone (or being deleted) is not waited for; one that does not
// answer is retried for revokeGrace after the delete, then let go with a
// Warning event naming the user left in etcd.
func (r *Reconciler) finalize(ctx context.Context, u *etcdv1.EtcdUser) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(u, Finalizer) {
		return ctrl.Result{}, nil
	}
	c := &etcdv1.EtcdCluster{}
	err := r.Get(ctx, client.ObjectKey{Namespace: u.Namespace, Name: u.Spec.ClusterName}, c)
	switch {
	case apierrors.IsNotFound(err) || (err == nil && !c.DeletionTimestamp.IsZero()):
		log.FromContext(ctx).V(1).Info("cluster gone: nothing to revoke", "cluster", u.Spec.ClusterName)
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("reading cluster %s: %w", u.Spec.ClusterName, err)
	default:
		if err := r.revoke(ctx, u, c); err != nil {
			if r.now().Sub(u.DeletionTimestamp.Time) < revokeGrace {
				conditions.Set(&u.Status.Conditions, u.Generation, etcdv1.UserConditionReady, false, etcdv1.ReasonEtcdError,
					fmt.Sprintf("removing user %s and role %s: %v; retrying until %s after the delete", u.Name, u.RoleName(), err, revokeGrace))
				_ = r.Status().Update(ctx, u)
				return ctrl.Result{RequeueAfter: requeueWait}, nil
			}
			r.Recorder.Eventf(u, c, corev1.EventTypeWarning, eventNotRevoked, "RevokeUser",
				"gave up removing user %s and role %s from cluster %s after %s: %v; remove them with etcdctl", u.Name, u.RoleName(), c.Name, revokeGrace, err)
		} else {
			r.Recorder.Eventf(u, c, corev1.EventTypeNormal, eventRevoked, "RevokeUser", "removed user %s and role %s from cluster %s", u.Name, u.RoleName(), c.Name)
		}
	}
	controllerutil.RemoveFinalizer(u, Finalizer)
	if err := r.Update(ctx, u); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("removing finalizer: %w", err)
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) revoke(ctx context.Context, u *etcdv1.EtcdUser, c *etcdv1.EtcdCluster) error {
	if !c.AuthEnabled() {
		return nil // no user was made
	}
	cl, err := r.connect(ctx, c)
	if err != nil {
		return err
	}
	return cl.DeleteUser(ctx, u.Name, u.RoleName())
}

func (r *Reconciler) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}

// SetupWithManager watches EtcdUsers, their Secrets, and EtcdClusters (a
// cluster that appears or becomes Available wakes its users).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&etcdv1.EtcdUser{}).
		Owns(&corev1.Secret{}).
		Watches(&etcdv1.EtcdCluster{}, handler.EnqueueRequestsFromMapFunc(r.usersOfCluster), builder.WithPredicates(clusterChanged)).
		Named("etcduser").
		Complete(r)
}

// clusterChanged passes a cluster's creation and deletion, and updates of
// its spec, of its Available condition (what decides whether users can be
// made) or of its CA rotation's phase (users' certificates and ca.crt
// follow the CA). Member status changes wake no user.
var clusterChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*etcdv1.EtcdCluster)
	n, ok2 := e.ObjectNew.(*etcdv1.EtcdCluster)
	if !ok1 || !ok2 {
		return true
	}
	return o.Generation != n.Generation || !n.DeletionTimestamp.IsZero() ||
		meta.IsStatusConditionTrue(o.Status.Conditions, etcdv1.ConditionAvailable) != meta.IsStatusConditionTrue(n.Status.Conditions, etcdv1.ConditionAvailable) ||
		caRotationPhase(o) != caRotationPhase(n)
}}

// caRotationPhase is the phase of the cluster's CA rotation, "" for none.
func caRotationPhase(c *etcdv1.EtcdCluster) etcdv1.CARotationPhase {
	if ca := c.Status.CertificateAuthority; ca != nil && ca.Rotation != nil {
		return ca.Rotation.Phase
	}
	return ""
}

// usersOfCluster lists the EtcdUsers naming the cluster.
func (r *Reconciler) usersOfCluster(ctx context.Context, o client.Object) []reconcile.Request {
	var list etcdv1.EtcdUserList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, u := range list.Items {
		if u.Spec.ClusterName == o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: u.Namespace, Name: u.Name}})
		}
	}
	return out
}
