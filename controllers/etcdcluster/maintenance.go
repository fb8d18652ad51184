package etcdcluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/internal/cronslot"
	"quorum.dev/etcd-operator/controllers/maintenance"
	"quorum.dev/etcd-operator/controllers/membership"
)

// Storage maintenance: recovery from the NOSPACE alarm and
// defragmentation (by threshold, on schedule, on demand), decided by
// maintenance.Plan and carried out one action per pass:
//
//   - NOSPACE (etcd op-guide/maintenance "Space quota"): compact to the
//     current revision, defragment every member, disarm. The compaction
//     drops every key version older than the current revision: the
//     current value of every key stays, but older revisions can no longer
//     be read and a watch from an older revision fails with "compacted".
//     A new compaction happens only once the revision moved (under NOSPACE
//     only deletes move it), so a quota full of live data does not loop.
//   - Rounds: a schedule slot or a new etcd.quorum.dev/defragment value
//     puts every member in status.defragmentation.pending; thresholds
//     (spec.defragmentation.freeablePercent/freeableBytes) add members as
//     they pass them.
//
// Nothing runs during an in-place restore or a membership change; during
// a rollout only the NOSPACE compaction and disarm run (they block no
// member), so raising quota.backendBytes always ends a NOSPACE episode.

// defaultMinDBSize: thresholds leave smaller databases alone
// (spec.defragmentation.minDBSize).
const defaultMinDBSize = 64 << 20

// noSpacePause is the pause between two defragmentations under NOSPACE:
// the cluster takes no writes anyway, so a short one is enough for the
// defragmented member to catch up.
const noSpacePause = 10 * time.Second

// maintain is the maintenance step.
func (r *Reconciler) maintain(ctx context.Context, p *pass) error {
	c := p.cluster
	if p.client == nil || !p.obs.contacted {
		return nil
	}
	logger := log.FromContext(ctx)
	ds := c.Status.Defragmentation
	if ds == nil {
		ds = &etcdv1.DefragmentationStatus{}
	}
	noSpace := p.obs.hasAlarm(etcdclient.AlarmNoSpace)
	r.startRounds(ctx, c, ds, p)

	busy := ""
	switch {
	case p.inPlace != nil:
		busy = "an in-place restore is under way"
	case p.membership != nil && p.membership.Kind != membership.None:
		busy = "a membership change is under way"
	case p.outdated > 0 && !noSpace:
		busy = "a rollout is under way"
	}
	if busy != "" {
		if len(ds.Pending) > 0 || noSpace {
			logger.V(1).Info("maintenance decision: wait", "reason", busy)
		}
		c.Status.Defragmentation = keepIfUsed(ds)
		return nil
	}

	s := r.maintSnapshot(c, ds, p, noSpace)
	a := maintenance.Plan(s)
	if p.outdated > 0 && (a.Kind == maintenance.Defragment || a.Kind == maintenance.MoveLeader) {
		a = maintenance.Action{Kind: maintenance.Wait, Reason: "NOSPACE: a rollout is under way; compaction and disarm only, no defragmentation until it ends"}
	}
	p.maint = &a
	if a.Kind != maintenance.None || noSpace {
		logger.V(1).Info("maintenance decision", "action", a.Kind, "member", fmt.Sprintf("%x", a.MemberID), "noSpace", noSpace,
			"revision", s.Revision, "compacted", s.Compacted, "pending", ds.Pending, "reason", a.Reason)
	}
	err := r.carryOut(ctx, c, ds, p, a, noSpace)
	if a.Kind == maintenance.None && len(ds.Pending) == 0 {
		ds.Trigger = ""
	}
	// Come back soon while there is work, or while the user may be
	// deleting keys under a full quota; a CORRUPT refusal waits for a human.
	if a.Changes() || a.Kind == maintenance.Wait || a.Kind == maintenance.QuotaFull || len(ds.Pending) > 0 {
		p.maintBusy = true
	}
	c.Status.Defragmentation = keepIfUsed(ds)
	return err
}

func keepIfUsed(ds *etcdv1.DefragmentationStatus) *etcdv1.DefragmentationStatus {
	if ds.Trigger == "" && len(ds.Pending) == 0 && ds.CompactedRevision == 0 && ds.LastScheduleTime == nil &&
		ds.HandledRequest == "" && len(ds.Members) == 0 {
		return nil
	}
	return ds
}

// startRounds puts every member in the pending list when a schedule slot
// came or a new on-demand request was made.
func (r *Reconciler) startRounds(ctx context.Context, c *etcdv1.EtcdCluster, ds *etcdv1.DefragmentationStatus, p *pass) {
	start := func(trigger string) {
		if len(ds.Pending) == 0 {
			ds.Trigger = trigger
		}
		for _, m := range p.obs.list {
			if m.Started() && !slices.Contains(ds.Pending, m.Name) {
				ds.Pending = append(ds.Pending, m.Name)
			}
		}
	}
	if v := c.Annotations[etcdv1.AnnotationDefragment]; v != "" && v != ds.HandledRequest {
		ds.HandledRequest = v
		start(etcdv1.DefragTriggerRequest)
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "DefragmentationRequested", "Maintenance", "defragmenting every member once (annotation %s=%s)", etcdv1.AnnotationDefragment, v)
	}
	if spec := c.Spec.Defragmentation; spec != nil && spec.Schedule != "" {
		sched, loc, err := cronslot.Parse(spec.Schedule, spec.TimeZone, "spec.defragmentation.timeZone")
		r.reportInvalidSchedule(ctx, c, err)
		if err == nil {
			// A schedule first seen starts from now: its first round is
			// at its next slot, not at a slot that came before it was set.
			if ds.LastScheduleTime == nil {
				ds.LastScheduleTime = &metav1.Time{Time: r.now().UTC().Truncate(time.Second)}
			}
			if slot := cronslot.MostRecent(sched, loc, ds.LastScheduleTime.Time, r.now()); !slot.IsZero() {
				ds.LastScheduleTime = &metav1.Time{Time: slot}
				start(etcdv1.DefragTriggerSchedule)
			}
		}
	}
	// Members removed since the round started are not waited for.
	ds.Pending = slices.DeleteFunc(ds.Pending, func(n string) bool {
		return !slices.ContainsFunc(p.obs.list, func(m etcdclient.Member) bool { return m.Name == n })
	})
}

// reportInvalidSchedule records a Warning InvalidSchedule event the first
// time a pass finds spec.defragmentation's schedule or time zone unusable,
// not on every pass: the reconciler remembers the error it announced for
// the cluster, and forgets it once the schedule parses again (so breaking
// it again is announced again). Admission refuses nearly every bad
// schedule; this is the backstop for what CEL cannot check (a range such
// as 5-1).
func (r *Reconciler) reportInvalidSchedule(ctx context.Context, c *etcdv1.EtcdCluster, err error) {
	key := client.ObjectKeyFromObject(c).String() + "/" + etcdv1.ReasonInvalidSchedule
	if err == nil {
		r.announced.Delete(key)
		return
	}
	if last, seen := r.announced.Swap(key, err.Error()); seen && last.(string) == err.Error() {
		return
	}
	log.FromContext(ctx).V(1).Info("defragmentation schedule ignored", "error", err.Error())
	r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, etcdv1.ReasonInvalidSchedule, "Maintenance", "spec.defragmentation: %v; no scheduled defragmentation until it is fixed", err)
}

// maintSnapshot builds the planner's input from the observation and status.
func (r *Reconciler) maintSnapshot(c *etcdv1.EtcdCluster, ds *etcdv1.DefragmentationStatus, p *pass, noSpace bool) maintenance.Snapshot {
	s := maintenance.Snapshot{
		NoSpace: noSpace, Corrupt: p.obs.hasAlarm(etcdclient.AlarmCorrupt),
		Compacted: ds.CompactedRevision, Now: r.now(), Pending: map[uint64]bool{},
	}
	for _, m := range p.obs.list {
		mm := maintenance.Member{ID: m.ID, Name: m.Name, IsLearner: m.IsLearner, IsLeader: m.ID == p.obs.leader}
		if st, ok := p.obs.statuses[m.ID]; ok {
			mm.Healthy = len(st.Errors) == 0
			mm.DBSize, mm.DBSizeInUse, mm.Quota = st.DBSize, st.DBSizeInUse, st.DBSizeQuota
			s.Revision = max(s.Revision, st.Revision)
		}
		s.Members = append(s.Members, mm)
		if slices.Contains(ds.Pending, m.Name) {
			s.Pending[m.ID] = true
		}
	}
	for _, m := range ds.Members {
		if m.Time.After(s.LastDefrag) {
			s.LastDefrag = m.Time.Time
		}
	}
	s.Policy = policyFor(c.Spec.Defragmentation)
	if noSpace {
		s.Policy.Pause = noSpacePause
	}
	return s
}

// policyFor turns spec.defragmentation into the planner's thresholds.
func policyFor(spec *etcdv1.DefragmentationSpec) maintenance.Policy {
	pol := maintenance.Policy{MinDBSize: defaultMinDBSize, NoThreshold: true}
	if spec == nil {
		return pol
	}
	if spec.MinDBSize != nil {
		pol.MinDBSize = spec.MinDBSize.Value()
		// A smaller floor than the planner's own lets small databases
		// through the freeable-bytes floor too.
		pol.MinFreeableBytes = max(1, min(maintenance.DefaultPolicy.MinFreeableBytes, pol.MinDBSize/4))
	}
	if spec.FreeablePercent != nil {
		pol.FreeableShare, pol.NoThreshold = float64(*spec.FreeablePercent)/100, false
	}
	if spec.FreeableBytes != nil {
		pol.FreeableBytes, pol.NoThreshold = spec.FreeableBytes.Value(), false
		if pol.FreeableShare == 0 {
			pol.FreeableShare = 2 // never: only the bytes threshold applies
		}
	}
	return pol
}

// carryOut does the planner's one action.
func (r *Reconciler) carryOut(ctx context.Context, c *etcdv1.EtcdCluster, ds *etcdv1.DefragmentationStatus, p *pass, a maintenance.Action, noSpace bool) error {
	name := func(id uint64) string {
		for _, m := range p.obs.list {
			if m.ID == id {
				return m.Name
			}
		}
		return fmt.Sprintf("%x", id)
	}
	switch a.Kind {
	case maintenance.Compact:
		if err := p.client.Compact(ctx, a.Revision, true); err != nil {
			return fmt.Errorf("NOSPACE recovery: %w", err)
		}
		ds.CompactedRevision, ds.Trigger = a.Revision, etcdv1.DefragTriggerNoSpace
		// Every member is defragmented once after a NOSPACE compaction:
		// its size in use is stale until then (see maintenance.Plan 4a').
		// A new compaction, and so a new round, needs the revision to move.
		ds.Pending = ds.Pending[:0]
		for _, m := range p.obs.list {
			if m.Started() {
				ds.Pending = append(ds.Pending, m.Name)
			}
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "Compacted", "Maintenance",
			"NOSPACE recovery: compacted to revision %d: every key version older than it is gone (current values stay; older revisions can no longer be read or watched)", a.Revision)
	case maintenance.MoveLeader:
		leader, ok := p.obs.statuses[a.MemberID]
		if !ok {
			return nil
		}
		if err := p.client.MoveLeader(ctx, leader.Endpoint, a.TargetID); err != nil {
			return fmt.Errorf("moving leadership from %s to %s before defragmenting it: %w", name(a.MemberID), name(a.TargetID), err)
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "LeaderMoved", "Maintenance", "%s", a.Reason)
	case maintenance.Defragment:
		st, ok := p.obs.statuses[a.MemberID]
		if !ok {
			return nil
		}
		trigger := etcdv1.DefragTriggerThreshold
		switch {
		case noSpace:
			trigger = etcdv1.DefragTriggerNoSpace
		case slices.Contains(ds.Pending, name(a.MemberID)) && ds.Trigger != "":
			trigger = ds.Trigger
		}
		if ds.Trigger == "" {
			ds.Trigger = trigger
		}
		// The one blocking call of a pass, bounded by DefragmentTimeout.
		if err := p.client.Defragment(ctx, st.Endpoint); err != nil {
			return fmt.Errorf("defragmenting %s: %w", name(a.MemberID), err)
		}
		after := st.DBSize
		if st2, err := p.client.Status(ctx, st.Endpoint); err == nil {
			after = st2.DBSize
		}
		rec := etcdv1.MemberDefragmentation{Name: name(a.MemberID), Time: metav1.Time{Time: r.now()}, Trigger: trigger, SizeBefore: st.DBSize, SizeAfter: after}
		ds.Members = slices.DeleteFunc(ds.Members, func(m etcdv1.MemberDefragmentation) bool { return m.Name == rec.Name })
		ds.Members = append(ds.Members, rec)
		slices.SortFunc(ds.Members, func(x, y etcdv1.MemberDefragmentation) int { return compareStrings(x.Name, y.Name) })
		ds.Pending = slices.DeleteFunc(ds.Pending, func(n string) bool { return n == rec.Name })
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "Defragmented", "Maintenance", "member %s defragmented (%s): database file %d → %d bytes",
			rec.Name, trigger, rec.SizeBefore, rec.SizeAfter)
	case maintenance.Disarm:
		if err := p.client.DisarmAlarm(ctx, 0, etcdclient.AlarmNoSpace); err != nil {
			return fmt.Errorf("NOSPACE recovery: %w", err)
		}
		if ds.Trigger == etcdv1.DefragTriggerNoSpace {
			ds.Trigger = ""
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "NoSpaceDisarmed", "Maintenance", "%s; writes resume", a.Reason)
	}
	return nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
