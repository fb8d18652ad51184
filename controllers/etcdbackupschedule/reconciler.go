// Package etcdbackupschedule holds the EtcdBackupSchedule reconciler: it
// creates an EtcdBackup for each slot of a cron schedule (cron.go), one at a
// time, and expires old backups (retention.go decides, expire.go deletes the
// stored snapshot, then the EtcdBackup).
package etcdbackupschedule

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/conditions"
	"quorum.dev/etcd-operator/controllers/internal/steps"
	"quorum.dev/etcd-operator/controllers/render"
)

// Requeue intervals of a schedule, besides its next slot.
const (
	// RequeueRetentionRetry: how soon to retry expiring a backup whose
	// storage failed, and how long a failed prune Job is kept.
	RequeueRetentionRetry = time.Minute
	// requeueRetentionIdle: how often a schedule that creates nothing
	// (suspended, invalid) looks for backups past maxAge.
	requeueRetentionIdle = time.Hour
)

// Reconciler creates an EtcdBackup for each slot of a
// cron schedule, one at a time, and expires old ones.
type Reconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	// Clock is time.Now unless a test sets it.
	Clock func() time.Time
	// Stores opens S3 destinations to delete expired snapshots.
	Stores ObjectStores
	// Render chooses the image of the Jobs that remove expired files from
	// claims; an empty ImageRepository is render.DefaultImageRepository.
	Render render.Options
	// APIReader reads from the API server (mgr.GetAPIReader()): a failed
	// prune Job's report (jobs.Report says why not from the cache).
	// Required.
	APIReader client.Reader
}

// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdbackupschedules,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdbackupschedules/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=etcd.quorum.dev,resources=etcdbackups,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// schedulePass carries what one pass learns, from step to step.
type schedulePass struct {
	schedule *etcdv1.EtcdBackupSchedule
	now      time.Time
	backups  []etcdv1.EtcdBackup // the schedule's own, as listed
	active   *etcdv1.EtcdBackup  // pending or running, if any
	next     time.Time           // next slot, zero if none
	invalid  error               // spec.schedule or spec.timeZone unusable
	// retention is the last failure to expire a backup: reported, retried,
	// but it does not stop the schedule.
	retention error
	// pruneWithoutPod: a prune Job has no pod yet; the pass looks again
	// after requeuePrunePod, to see whether the API server refuses it.
	pruneWithoutPod bool
}

// requeuePrunePod: how soon a schedule whose prune Job has no pod looks
// again (a refusal of the pod changes nothing the schedule watches).
const requeuePrunePod = 15 * time.Second

// Reconcile runs one pass over a schedule. The steps, in order:
//  1. observe: list the schedule's EtcdBackups; find the active one and
//     the newest success;
//  2. schedule: create the EtcdBackup of the most recent due slot, unless
//     one is still active (the slot is skipped) or the slot is older than
//     the starting deadline (skipped too);
//  3. retention: expire succeeded backups beyond keepLast or maxAge:
//     manifest and snapshot deleted from S3 (or from a claim, by a Job),
//     then the EtcdBackup;
//  4. history: delete failed EtcdBackups beyond failedBackupsHistoryLimit.
//
// Status is written once, at the end; the pass requeues itself for the
// next slot rather than waiting.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	s := &etcdv1.EtcdBackupSchedule{}
	if err := r.Get(ctx, req.NamespacedName, s); err != nil {
		if apierrors.IsNotFound(err) {
			forgetScheduleMetrics(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !s.DeletionTimestamp.IsZero() {
		// Its EtcdBackups go through garbage collection; stored snapshots stay.
		return ctrl.Result{}, nil
	}
	original := s.DeepCopy()
	p := &schedulePass{schedule: s, now: r.now()}

	stepErr := steps.Run(ctx, p, []steps.Step[*schedulePass]{
		{Name: "observe", Run: r.observeBackups},
		{Name: "schedule", Run: r.scheduleBackup},
		{Name: "retention", Run: r.expireBackups},
		{Name: "history", Run: r.trimFailed},
	})

	setScheduleStatus(s, p, stepErr)
	if err := r.Status().Patch(ctx, s, client.MergeFrom(original)); err != nil && !apierrors.IsNotFound(err) && stepErr == nil {
		stepErr = fmt.Errorf("patching status: %w", err)
	}
	r.recordScheduleTransition(original, s)
	recordScheduleMetrics(s)
	if stepErr != nil {
		return ctrl.Result{}, stepErr
	}
	return ctrl.Result{RequeueAfter: p.requeueAfter()}, nil
}

// requeueAfter: the next slot, sooner if retention must be retried; an
// hour when nothing is scheduled but maxAge may expire backups.
func (p *schedulePass) requeueAfter() time.Duration {
	var d time.Duration
	if !p.next.IsZero() {
		d = p.next.Sub(p.now)
	} else if r := p.schedule.Spec.Retention; r != nil && r.MaxAge != nil {
		d = requeueRetentionIdle
	}
	if p.retention != nil && (d == 0 || d > RequeueRetentionRetry) {
		d = RequeueRetentionRetry
	}
	if p.pruneWithoutPod && (d == 0 || d > requeuePrunePod) {
		d = requeuePrunePod
	}
	return d
}

// observeBackups lists the EtcdBackups this schedule controls.
func (r *Reconciler) observeBackups(ctx context.Context, p *schedulePass) error {
	s := p.schedule
	list := &etcdv1.EtcdBackupList{}
	if err := r.List(ctx, list, client.InNamespace(s.Namespace), client.MatchingLabels{etcdv1.LabelBackupSchedule: s.Name}); err != nil {
		return fmt.Errorf("listing backups: %w", err)
	}
	for _, b := range list.Items {
		if metav1.IsControlledBy(&b, s) {
			p.backups = append(p.backups, b)
		}
	}
	for _, phase := range []etcdv1.BackupPhase{"", etcdv1.BackupPending, etcdv1.BackupRunning} {
		if active := newestFirst(p.backups, phase); len(active) > 0 && (p.active == nil || backupTime(active[0]).After(backupTime(p.active))) {
			p.active = active[0]
		}
	}
	if ok := newestFirst(p.backups, etcdv1.BackupSucceeded); len(ok) > 0 {
		last := metav1.NewTime(backupTime(ok[0]))
		if s.Status.LastSuccessfulTime == nil || !last.Before(s.Status.LastSuccessfulTime) {
			s.Status.LastSuccessfulTime, s.Status.LastSuccessfulBackup = &last, ok[0].Name
		}
	}
	return nil
}

// scheduleBackup creates the backup of the due slot, at most one per pass.
func (r *Reconciler) scheduleBackup(ctx context.Context, p *schedulePass) error {
	s := p.schedule
	sched, loc, err := parseSchedule(s.Spec.Schedule, s.Spec.TimeZone)
	if err != nil {
		p.invalid = err
		return nil
	}
	var deadline *time.Duration
	if d := s.Spec.StartingDeadlineSeconds; d != nil {
		dd := time.Duration(*d) * time.Second
		deadline = &dd
	}
	plan, err := planSlots(sched, loc, lastHandled(s), p.now, deadline, s.Spec.Suspend)
	if err != nil {
		p.invalid = fmt.Errorf("schedule %q: %w", s.Spec.Schedule, err)
		return nil
	}
	p.next = plan.Next
	log.FromContext(ctx).V(1).Info("schedule decision", "lastHandled", lastHandled(s), "now", p.now,
		"due", plan.Due, "missed", plan.Missed, "next", plan.Next, "suspended", s.Spec.Suspend)
	if !plan.Missed.IsZero() {
		s.Status.LastSkippedTime = timePtr(plan.Missed)
		r.Recorder.Eventf(s, nil, corev1.EventTypeWarning, "MissedSchedule", "Schedule",
			"skipped the backup of %s: missed by more than %ds", plan.Missed.Format(time.RFC3339), *s.Spec.StartingDeadlineSeconds)
	}
	if plan.Due.IsZero() {
		return nil
	}
	return r.createBackup(ctx, p, plan.Due)
}

// createBackup makes the EtcdBackup of slot, unless it exists already (a
// pass whose status write was lost) or another backup is still active.
func (r *Reconciler) createBackup(ctx context.Context, p *schedulePass, slot time.Time) error {
	s := p.schedule
	name := s.BackupName(slot)
	err := r.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: name}, &etcdv1.EtcdBackup{})
	switch {
	case err == nil:
		s.Status.LastScheduleTime = timePtr(slot)
		return nil
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading backup %s: %w", name, err)
	case p.active != nil:
		log.FromContext(ctx).V(1).Info("skipping slot: a backup is still active", "slot", slot, "active", p.active.Name, "phase", phaseOrPending(p.active))
		s.Status.LastSkippedTime = timePtr(slot)
		r.Recorder.Eventf(s, p.active, corev1.EventTypeWarning, "BackupSkipped", "Schedule",
			"skipped the backup of %s: %s is still %s", slot.Format(time.RFC3339), p.active.Name, phaseOrPending(p.active))
		return nil
	}
	b := &etcdv1.EtcdBackup{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: s.Namespace, Labels: s.BackupLabels(),
			Annotations: map[string]string{etcdv1.AnnotationScheduledAt: slot.UTC().Format(time.RFC3339)},
		},
		Spec: s.Spec.BackupTemplate.BackupSpec(),
	}
	if err := controllerutil.SetControllerReference(s, b, r.Scheme); err != nil {
		return err
	}
	if err := r.Create(ctx, b); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating backup %s: %w", name, err)
	}
	s.Status.LastScheduleTime = timePtr(slot)
	p.active = b
	r.Recorder.Eventf(s, b, corev1.EventTypeNormal, "BackupCreated", "Schedule", "created %s for %s", name, slot.Format(time.RFC3339))
	return nil
}

func (r *Reconciler) deleteBackup(ctx context.Context, b *etcdv1.EtcdBackup) error {
	err := r.Delete(ctx, b, client.Preconditions{UID: &b.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting backup %s: %w", b.Name, err)
	}
	return nil
}

// setScheduleStatus writes the status from what the pass saw.
func setScheduleStatus(s *etcdv1.EtcdBackupSchedule, p *schedulePass, stepErr error) {
	st := &s.Status
	st.Active = ""
	if p.active != nil {
		st.Active = p.active.Name
	}
	st.NextScheduleTime = nil
	if !p.next.IsZero() {
		st.NextScheduleTime = timePtr(p.next)
	}
	ready := func(ok bool, reason, msg string) {
		conditions.Set(&st.Conditions, s.Generation, etcdv1.ScheduleConditionReady, ok, reason, msg)
	}
	switch {
	case p.invalid != nil:
		ready(false, etcdv1.ReasonInvalidSchedule, p.invalid.Error())
	case stepErr != nil:
		ready(false, etcdv1.ReasonScheduleError, stepErr.Error())
	case p.retention != nil:
		ready(false, etcdv1.ReasonRetentionFailed, p.retention.Error())
	case s.Spec.Suspend:
		ready(true, etcdv1.ReasonSuspended, "suspended: no backup is created")
	default:
		ready(true, etcdv1.ReasonScheduled, "next backup at "+p.next.Format(time.RFC3339))
	}
	if stepErr == nil {
		st.ObservedGeneration = s.Generation
	}
}

// recordScheduleTransition emits a warning when Ready turns False for a
// new reason or message (an invalid schedule is reported once, not on
// every pass).
func (r *Reconciler) recordScheduleTransition(before, after *etcdv1.EtcdBackupSchedule) {
	was := meta.FindStatusCondition(before.Status.Conditions, etcdv1.ScheduleConditionReady)
	now := meta.FindStatusCondition(after.Status.Conditions, etcdv1.ScheduleConditionReady)
	if now == nil || now.Status != metav1.ConditionFalse {
		return
	}
	if was != nil && was.Status == now.Status && was.Reason == now.Reason && was.Message == now.Message {
		return
	}
	r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, now.Reason, "Reconcile", "%s", now.Message)
}

// lastHandled is the latest slot backed up or skipped, else the creation
// time: slots before it are never run.
func lastHandled(s *etcdv1.EtcdBackupSchedule) time.Time {
	t := s.CreationTimestamp.Time
	for _, h := range []*metav1.Time{s.Status.LastScheduleTime, s.Status.LastSkippedTime} {
		if h != nil && h.After(t) {
			t = h.Time
		}
	}
	return t
}

func phaseOrPending(b *etcdv1.EtcdBackup) string {
	if b.Status.Phase == "" {
		return string(etcdv1.BackupPending)
	}
	return string(b.Status.Phase)
}

// storeKey tells apart the buckets and credentials of S3 destinations.
func storeKey(l *etcdv1.S3Location) string {
	ca := ""
	if l.CA != nil {
		ca = l.CA.Name + "/" + l.CA.Key
	}
	return fmt.Sprintf("%s|%s|%s|%t|%s|%s", l.Endpoint, l.Bucket, l.Region, l.Insecure, l.CredentialsSecretName, ca)
}

func timePtr(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t.UTC())
	return &mt
}

func (r *Reconciler) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}

// SetupWithManager registers the reconciler; it wakes up for its own
// EtcdBackups' changes and its prune Jobs' as well as on its timer.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&etcdv1.EtcdBackupSchedule{}).
		Owns(&etcdv1.EtcdBackup{}).
		Watches(&batchv1.Job{}, handler.EnqueueRequestsFromMapFunc(pruneJobSchedule)).
		Named("etcdbackupschedule").
		Complete(r)
}

// pruneJobSchedule maps a prune Job to the schedule of its backup, named
// by the label it copies from the backup; other Jobs do not carry it.
func pruneJobSchedule(_ context.Context, o client.Object) []reconcile.Request {
	s, ok := o.GetLabels()[etcdv1.LabelBackupSchedule]
	if !ok || s == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: s}}}
}
