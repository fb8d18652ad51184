// Package etcdcluster holds the EtcdCluster reconciler: it renders and
// applies the cluster's child objects (certificates, ConfigMap, Services,
// StatefulSet, PDB, NetworkPolicy, PodMonitor), observes the members
// through etcd, and changes them one safe step at a time: membership
// (membership.go, decided by package membership), rolling restarts
// (rollout.go), and the cluster's side of in-place restores and recoveries
// from a survivor (restore_*.go). Pure helpers live in sibling packages:
// render (child objects), pki (certificates), etcdclient (the narrow etcd
// client), membership (the planner).
package etcdcluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/internal/podcause"
	"quorum.dev/etcd-operator/controllers/internal/podutil"
	"quorum.dev/etcd-operator/controllers/internal/steps"
	"quorum.dev/etcd-operator/controllers/maintenance"
	"quorum.dev/etcd-operator/controllers/membership"
	"quorum.dev/etcd-operator/controllers/render"
)

// FieldOwner is the server-side apply field manager of the operator.
const FieldOwner = "quorum-operator"

// Requeue intervals: how soon to look again at a cluster that is settling,
// and how often to refresh member status of a healthy one.
const (
	requeueSettling = 5 * time.Second
	// requeueHealthy: etcd raises an alarm (NOSPACE, CORRUPT) without any
	// Kubernetes event, so a healthy cluster is read this often for the
	// alarm to be reported within 30 s (one member list, one status per
	// member and the alarm list; no API write while nothing changes).
	requeueHealthy = 15 * time.Second
	// requeueSpecError: how soon to look again at a cluster whose spec
	// names something missing or invalid.
	requeueSpecError = 30 * time.Second
	// maxErrorBackoff caps the delay before a failed pass is retried.
	maxErrorBackoff = 30 * time.Second
	// requeueMembership: how soon to look again after a membership change
	// (the next change of a scale-up or -down usually follows at once: no
	// Kubernetes event announces that a learner was added, promoted or
	// caught up) or after etcd refused one for a moment (a learner not yet
	// in sync). Each pass still makes at most one change, planned from a
	// member list read in that pass. Scaling 3→5 spent about 5 s per
	// member waiting for requeueSettling (issue #17 item 3).
	requeueMembership = time.Second
)

// Reconciler runs EtcdClusters.
type Reconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	Render   render.Options
	// Clock is time.Now unless a test sets it.
	Clock func() time.Time
	// OperatorNamespace is where the operator runs; NetworkPolicies let it in.
	OperatorNamespace string
	// APIReader reads from the API server (mgr.GetAPIReader()): objects the
	// cache does not hold (users' Secrets), and a finished preflight Job's
	// report (jobs.Report says why not from the cache).
	APIReader client.Reader
	// Clients caches one etcd connection per cluster.
	Clients *etcdclient.ClientCache

	applied appliedObjects
	// announced: per cluster and condition type, the "status/reason" last
	// announced by an event (see recordTransitions).
	announced sync.Map
	// certSeries: per cluster, the Secrets whose expiry it exported last
	// pass (map[string]bool), so that those it no longer depends on are
	// dropped (pruneCertificateExpiry).
	certSeries sync.Map
	// replacing: per cluster, the member being replaced for corrupt data
	// ("<name> (ID <id>)"), from its removal until the membership is as
	// desired again, so that Degraded keeps saying so (corruption.go).
	replacing sync.Map
}

// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdclusters,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdclusters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdclusters/finalizers,verbs=update
// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdbackups,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps;secrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete

// pass carries what one reconcile pass learns, from step to step.
type pass struct {
	cluster *etcdv1.EtcdCluster
	// observed: the observe step ran; a pass stopped by an earlier step's
	// error did not ask the members (setStatus keeps what was known).
	observed bool
	// boot is the bootstrap state in the ConfigMap (state, initial
	// cluster, restore-id, force-new-cluster); see bootstrap.go, its only
	// writer.
	boot render.Bootstrap
	// legacyOptions: the options file the cluster ConfigMap keeps for
	// members made by an earlier operator version (see legacyOptions).
	legacyOptions string
	revision      revisionPlan        // the revision the members' template gets (revision.go)
	checking      string              // the spec's revision waits for its running preflight check: why
	stsReplicas   int32               // replicas the StatefulSet was applied with
	sts           *appsv1.StatefulSet // as last read back, for its status
	pods          []corev1.Pod        // member pods, listed by observe: why they are not ready
	// claims: per pod waiting for its claim to bind, what observe read of
	// the claim and its StorageClass (claims.go).
	claims       map[string]podcause.Claim
	obs          observation
	client       etcdclient.Client // set by observe when etcd answered
	authEnabled  bool
	rootPassword string // the root password observe authenticated with (TLS off)
	// passwordKeyMissing: the user's root password Secret has no
	// "password" key; the recorded password is used (see rootPassword).
	passwordKeyMissing *specError
	membership         *membership.Action // the planner's choice this pass, if it ran
	restore            *render.RestoreSource
	inPlace            *etcdv1.EtcdRestore // the in-place restore being carried out, if any
	outdated           int                 // pods still to restart with the new template
	rolloutReason      string              // what the rollout step is doing or waiting for
	tokenKeyHash       string              // digest of the JWT signing key (jwt tokens), see tokenkey.go
	rolloutHalt        *rolloutHalt        // why the rollout cannot go on (stuck, blocked), if so
	templateHash       string              // digest of the pod template the spec renders (rollout_rollback.go)
	tlsMessage         string              // what the TLS migration does or waits for, while one is under way
	ca                 *caState            // the CA Secret as read by the certificates step (operator-issued TLS only)
	userSecrets        []*corev1.Secret    // the user's TLS Secrets as read by the certificates step (spec.tls.*SecretName)
	certExpiry         *expiryVerdict      // the certificate expiry check's verdict, when it ran (certexpiry.go)
	caMessage          string              // what the CA rotation does or waits for, while one is under way or due
	certSwitch         *certSwitch         // a switch of certificate sources, as the certificates step read it (certswitch.go)
	switchMessage      string              // what the switch does or waits for, while one is under way or pending
	switchRefused      string              // why a wanted switch cannot be done, and what happens next
	podsListed         bool                // pods holds the member pods as listed at the end of the pass
	maint              *maintenance.Action // the maintenance planner's choice this pass, if it ran
	maintBusy          bool                // maintenance has work left: come back soon
	membershipSoon     bool                // a membership change was made or etcd asked to wait a moment: look again in requeueMembership
	volumes            *volumePlan         // the volumes step's decision, when member claims exist
	// corrupt: the members' HashKV compared while CORRUPT is raised (see
	// corruption.go); corruptDisarmed: CORRUPT was disarmed this pass.
	corrupt         *membership.Verdict
	corruptDisarmed bool
	// replacingCorrupt: the member being replaced for corrupt data, if any.
	replacingCorrupt string
	// stsReplacing: the StatefulSet is being replaced (deleted, its pods
	// orphaned) to change its claim template; no membership change or
	// restart this pass.
	stsReplacing bool
	// claimTemplates to keep in the rendered StatefulSet while its
	// replacement must wait; nil renders the spec's.
	claimTemplates []corev1.PersistentVolumeClaim
	// monitoringUnavailable: a PodMonitor or PrometheusRule was asked for
	// without its CRD; reported by the last step (monitoring.go).
	monitoringUnavailable *specError
	// certIssuance: cert-manager cannot renew the cluster's certificates
	// while the Secrets it wrote still serve (certmanager.go).
	certIssuance *specError
}

// Reconcile moves one EtcdCluster towards its spec. The steps, in order:
//  0. volumes: member claims grow to storage.size where their StorageClass
//     allows it; status.storage.capacity records what they really have
//     (a derived quota follows it, see volumes.go);
//  1. certificates: CA and leaf Secrets exist, are valid and not near expiry;
//     (certificate expiry: certificates the operator will not renew that
//     are near expiry, for the CertificatesExpiring condition, see
//     certexpiry.go;)
//     (tls migration: the phase of a TLS migration under way, which the
//     renderers follow, see tlsmigration_plan.go;)
//     (token key: the JWT signing key Secret of auth.token jwt, see
//     tokenkey.go;)
//  2. config: the ConfigMap with the bootstrap state;
//     (formation: a finalizer while the cluster has never formed, so that
//     deleting it deletes its claims, see finalize.go;)
//  3. services: headless peer Service and client Service;
//     (restore source: the snapshot a restored cluster starts from, or an
//     EtcdRestore being carried out in place, see restore_inplace.go;)
//  4. members: the StatefulSet and the options ConfigMap of the revision
//     it runs: a changed image or options file is written only once its
//     preflight check passed (revision.go); during an in-place restore,
//     every member pod not yet made from the restore's template is
//     stopped; a changed claim template replaces the StatefulSet, its
//     pods kept (statefulset.go);
//  5. disruption budget: a PDB that keeps quorum; a NetworkPolicy and a
//     PodMonitor if asked;
//  6. observe: member list and per-member status from etcd itself (an
//     in-place restore is finished once every member is back and healthy);
//     (corruption: with CORRUPT raised, the members' HashKV compared to
//     find the member whose data differs, see corruption.go;)
//  7. membership: at most one safe membership change (scale up through a
//     learner, scale down by member ID, replace a member whose data is
//     lost or corrupt), chosen by membership.Plan; CORRUPT is disarmed
//     once every member's HashKV agrees;
//  8. rollout: restart one member whose pod runs an old template, health
//     gated, followers first, leader last after moving its leadership;
//     (tls migration step: end a phase of a TLS migration, or move one
//     member's peer URL;)
//     (ca rotation: start a CA rotation when requested or due, or move
//     it to its next phase once its restart rolled out, see
//     carotation_plan.go;)
//     (certificate switch: start, move on or end a switch of certificate
//     sources, see certswitch_plan.go;)
//  9. auth: root user and authentication on, once a quorum is healthy;
//  10. maintenance: at most one storage-maintenance action (NOSPACE
//     recovery, defragmentation), chosen by maintenance.Plan; see
//     maintenance.go.
//
// Status is written once, at the end, from what the pass saw. A cluster
// carrying the etcd.quorum.dev/paused annotation runs none of the steps
// (pause.go); its deletion is still carried out.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cluster := &etcdv1.EtcdCluster{}
	if err := r.Get(ctx, req.NamespacedName, cluster); err != nil {
		if apierrors.IsNotFound(err) {
			r.Clients.Forget(req.NamespacedName)
			for _, t := range []string{etcdv1.ConditionAvailable, etcdv1.ConditionDegraded, eventClusterFormed, etcdv1.ReasonInvalidSchedule, rolledBackSuffix, etcdv1.ConditionPaused, etcdv1.ConditionCertificatesExpiring} {
				r.announced.Delete(req.String() + "/" + t)
			}
			r.replacing.Delete(req.String())
			r.announced.Range(func(k, _ any) bool {
				if strings.HasPrefix(k.(string), req.String()+"/corrupt/") {
					r.announced.Delete(k)
				}
				return true
			})
			forgetClusterMetrics(req.NamespacedName)
			r.certSeries.Delete(req.String())
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if cluster.Generation != cluster.Status.ObservedGeneration && cluster.DesiredReplicas()%2 == 0 {
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeWarning, "EvenReplicas", "Validate",
			"%d members tolerate no more failures than %d: an odd number is recommended", cluster.DesiredReplicas(), cluster.DesiredReplicas()-1)
	}
	if !cluster.DeletionTimestamp.IsZero() {
		// Owned objects go with the cluster through garbage collection;
		// claims follow the StatefulSet's retention policy, except those
		// of a cluster that never formed (finalize.go).
		r.Clients.Forget(req.NamespacedName)
		return r.finalize(ctx, cluster)
	}
	if cluster.Paused() {
		return r.paused(ctx, cluster)
	}
	r.recordResumed(cluster)
	original := cluster.DeepCopy()
	p := &pass{cluster: cluster}
	defer func() { r.recordAlarms(cluster, original.Status.Members, p) }()

	stepErr := steps.Run(ctx, p, []steps.Step[*pass]{
		{Name: "volumes", Run: r.growVolumes},
		{Name: "certificates", Run: r.ensureCertificates},
		{Name: "certificate expiry", Run: r.checkCertificateExpiry},
		{Name: "tls migration", Run: r.resumeTLSMigration},
		{Name: "token key", Run: r.ensureTokenKey},
		{Name: "config", Run: r.applyConfig},
		{Name: "formation", Run: r.trackFormation},
		{Name: "services", Run: r.applyServices},
		{Name: "restore source", Run: r.resolveRestore},
		{Name: "members", Run: r.applyStatefulSet},
		{Name: "restore in place", Run: r.stopOldMembers},
		{Name: "disruption budget", Run: r.applyPDB},
		{Name: "network policy", Run: r.applyNetworkPolicy},
		{Name: "monitoring", Run: r.applyMonitoring},
		{Name: "observe", Run: r.observe},
		{Name: "finish restore", Run: r.finishRestore},
		{Name: "corruption", Run: r.judgeCorruption},
		{Name: "membership", Run: r.reconcileMembership},
		{Name: "disarm corrupt", Run: r.disarmCorrupt},
		{Name: "rollout", Run: r.rollout},
		{Name: "tls migration step", Run: r.advanceTLSMigration},
		{Name: "ca rotation", Run: r.advanceCARotation},
		{Name: "certificate switch", Run: r.switchCertificates},
		{Name: "auth", Run: r.ensureAuth},
		{Name: "maintenance", Run: r.maintain},
		{Name: "monitoring CRDs", Run: r.reportMonitoring},
	})

	if p.observed || stepErr != nil {
		// The pods again, from the cache: a pass that waited on members
		// going away must not report them as they were at its start; and
		// one that stopped before observing (a bad Secret, say) still
		// counts the ready members, so the list view does not show a pod
		// that went down meanwhile as ready.
		if pods, err := podutil.ListMembers(ctx, r.Client, cluster); err == nil {
			p.pods, p.podsListed = pods, true
		}
	}
	setStatus(cluster, p, r.Render, stepErr)
	if equality.Semantic.DeepEqual(original.Status, cluster.Status) {
		// Nothing new: an idle cluster costs no API writes.
	} else if err := r.Status().Patch(ctx, cluster, client.MergeFrom(original)); err != nil && !apierrors.IsNotFound(err) {
		if stepErr == nil {
			stepErr = fmt.Errorf("patching status: %w", err)
		}
	}
	r.recordTransitions(original, cluster)
	memberHealth.WithLabelValues(cluster.Namespace, cluster.Name).Set(float64(p.obs.healthyCount()))
	recordClusterMetrics(cluster)
	res, err := nextPass(p, cluster, stepErr)
	return capForCertificates(res, p), err
}

// recordTransitions emits an event whenever Available's status changes,
// and a Warning whenever the cluster becomes Degraded or Degraded's reason
// changes (not on every new message: a restart count in it changes often).
// Each transition is announced once: the reconciler remembers what it
// announced last, because the next pass may still read the cluster from
// before the status patch (a stale cache) and see the same transition.
func (r *Reconciler) recordTransitions(before, after *etcdv1.EtcdCluster) {
	key := types.NamespacedName{Namespace: after.Namespace, Name: after.Name}.String()
	if nowD, changed := r.transition(key, etcdv1.ConditionDegraded, before, after, true); changed && nowD.Status == metav1.ConditionTrue {
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, nowD.Reason, "Reconcile", "%s", nowD.Message)
	}
	now, changed := r.transition(key, etcdv1.ConditionAvailable, before, after, false)
	if !changed {
		return
	}
	kind := corev1.EventTypeNormal
	if now.Status != metav1.ConditionTrue && now.Reason != etcdv1.ReasonBootstrapping {
		kind = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(after, nil, kind, now.Reason, "Observe", "%s", now.Message)
}

// transition returns condition t of after, and whether its status (and
// reason, with byReason) differs both from before and from what was last
// announced for key.
func (r *Reconciler) transition(key, t string, before, after *etcdv1.EtcdCluster, byReason bool) (*metav1.Condition, bool) {
	state := func(c *metav1.Condition) string {
		if byReason {
			return string(c.Status) + "/" + c.Reason
		}
		return string(c.Status)
	}
	now := meta.FindStatusCondition(after.Status.Conditions, t)
	if now == nil {
		return nil, false
	}
	last, seen := r.announced.Swap(key+"/"+t, state(now))
	if was := meta.FindStatusCondition(before.Status.Conditions, t); was != nil && state(was) == state(now) {
		return now, false
	}
	return now, !seen || last.(string) != state(now)
}

// SetupWithManager registers the reconciler and what it watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return controllerFor(mgr).Complete(r)
}

// controllerFor is the controller's builder: what it watches, its name and
// rate limiter. Member pods are watched (memberPodEvents) so that a change
// of readiness reaches the status at once, not at the next periodic pass.
func controllerFor(mgr ctrl.Manager) *builder.TypedBuilder[reconcile.Request] {
	return ctrl.NewControllerManagedBy(mgr).
		For(&etcdv1.EtcdCluster{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(memberPodCluster), builder.WithPredicates(memberPodChanged)).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Secret{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(credentialsSecretOwner)).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Named("etcdcluster").
		// A failed pass is retried with backoff, but never more than
		// maxErrorBackoff later: etcd refusals are usually short-lived.
		WithOptions(controller.Options{RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](100*time.Millisecond, maxErrorBackoff)})
}

// reader is the cache for the operator's own objects, and the API server
// for objects users create (not labelled for the operator's cache).
func (r *Reconciler) reader(userObject bool) client.Reader {
	if userObject {
		return r.APIReader
	}
	return r.Client
}

func (r *Reconciler) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}
