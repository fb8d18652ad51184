package etcdcluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/internal/podutil"
	"quorum.dev/etcd-operator/controllers/membership"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/contract"
)

// Corrupt members (etcd op-guide/data_corruption). A member is singled
// out by its pod (quorum-etcd refuses to start it and reports
// contract.DataCorruptMarker with its member ID) or, while the CORRUPT
// alarm is raised, by its HashKV: judgeCorruption asks every member for
// HashKV at one revision and membership.JudgeHashes names the members
// outside the majority (etcd's compaction hash check does the same; its
// periodic check compares with the leader only, so the alarm's member ID
// alone is not trusted). membership.Plan (rule 3c) then replaces such a
// member like one that lost its volume: removed by ID, its pod restarted
// so that quorum-etcd sets the data aside as <data dir>.corrupt-<time>,
// added back as a learner and promoted. disarmCorrupt clears CORRUPT once
// every member's HashKV agrees and the membership is as desired.

// judgeCorruption is the step before membership: with CORRUPT raised, it
// compares the members' HashKV (p.corrupt); it also announces, once per
// member ID, a member whose pod reports corrupt data.
func (r *Reconciler) judgeCorruption(ctx context.Context, p *pass) error {
	c := p.cluster
	if v, ok := r.replacing.Load(clusterKey(c)); ok {
		p.replacingCorrupt = v.(string)
	}
	for _, m := range corruptPods(p) {
		r.announceCorrupt(c, m.id, "member %s (ID %x) refuses to start: its data is corrupt (%s)", m.name, m.id, m.why)
	}
	if p.client == nil || !p.obs.contacted || !p.obs.hasAlarm(etcdclient.AlarmCorrupt) {
		return nil
	}
	rev := int64(0)
	for _, st := range p.obs.statuses {
		if rev == 0 || (st.Revision > 0 && st.Revision < rev) {
			rev = st.Revision
		}
	}
	var voters []uint64
	var hashes []membership.Hash
	logger := log.FromContext(ctx)
	for _, m := range p.obs.list {
		if !m.IsLearner {
			voters = append(voters, m.ID)
		}
		st, ok := p.obs.statuses[m.ID]
		if !ok || rev == 0 {
			continue
		}
		h, err := p.client.HashKV(ctx, st.Endpoint, rev)
		if err != nil {
			logger.V(1).Info("HashKV unavailable", "member", m.Name, "id", fmt.Sprintf("%x", m.ID), "error", err.Error())
			continue
		}
		hashes = append(hashes, membership.Hash{MemberID: m.ID, Hash: h.Hash, Revision: h.Revision, CompactRevision: h.CompactRevision})
	}
	v := membership.JudgeHashes(voters, hashes)
	p.corrupt = &v
	logger.V(1).Info("corruption decision", "revision", rev, "answered", len(hashes), "voters", len(voters),
		"compared", v.Compared, "agree", v.Agree, "corrupt", hexIDs(v.Corrupt), "reason", v.Reason)
	for _, id := range v.Corrupt {
		r.announceCorrupt(c, id, "member %s (ID %x) holds corrupt data: %s", nameOf(p, id), id, v.Reason)
	}
	return nil
}

// announceCorrupt records a Warning event about member id, once.
func (r *Reconciler) announceCorrupt(c *etcdv1.EtcdCluster, id uint64, format string, args ...any) {
	key := clusterKey(c) + fmt.Sprintf("/corrupt/%x", id)
	if _, seen := r.announced.LoadOrStore(key, true); seen {
		return
	}
	r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, etcdv1.ReasonDataCorrupt, "DetectCorruption", format, args...)
}

// disarmCorrupt is the step after membership: CORRUPT is disarmed once
// every member's HashKV agrees (p.corrupt.Agree) and the membership is
// as desired (no replacement in progress).
func (r *Reconciler) disarmCorrupt(ctx context.Context, p *pass) error {
	if p.corrupt == nil || !p.corrupt.Agree || p.membership == nil || p.membership.Kind != membership.None {
		return nil
	}
	if len(p.obs.list) < 2 {
		// One member agrees with itself: a CORRUPT alarm there came from
		// its own check; it is left for a person (restore from a backup).
		return nil
	}
	log.FromContext(ctx).V(1).Info("corruption decision: disarm CORRUPT", "reason", p.corrupt.Reason)
	if err := p.client.DisarmAlarm(ctx, 0, etcdclient.AlarmCorrupt); err != nil {
		return fmt.Errorf("disarming CORRUPT: %w", err)
	}
	p.corruptDisarmed = true
	r.Recorder.Eventf(p.cluster, nil, corev1.EventTypeNormal, "CorruptDisarmed", "DisarmCorrupt", "%s: CORRUPT alarm disarmed; writes resume", p.corrupt.Reason)
	return nil
}

// restartRemovedPod deletes the pod of ordinal o after its member was
// removed for corrupt or lost data: the StatefulSet makes it again at once
// (instead of after a crash-loop back-off), and quorum-etcd, finding its
// member gone, sets any data aside and waits to join as the learner the
// next pass adds. why says what the restart is for, in the error.
func (r *Reconciler) restartRemovedPod(ctx context.Context, c *etcdv1.EtcdCluster, o int, why string) error {
	pod := &corev1.Pod{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.MemberName(o)}, pod); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !pod.DeletionTimestamp.IsZero() {
		return nil
	}
	if err := r.Delete(ctx, pod, client.Preconditions{UID: &pod.UID}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("restarting %s %s: %w", pod.Name, why, err)
	}
	return nil
}

// corruptPod is a listed member whose pod reports corrupt data.
type corruptPod struct {
	name, why string
	id        uint64
}

// corruptPods lists the members whose pod reports, under the member's
// current ID, that its data is corrupt; without a member list, the pods
// that are not ready and report it. Pure.
func corruptPods(p *pass) []corruptPod {
	var out []corruptPod
	for i := range p.pods {
		pod := &p.pods[i]
		id, ok := podutil.CorruptMemberID(pod)
		if !ok {
			continue
		}
		listed := slices.ContainsFunc(p.obs.list, func(m etcdclient.Member) bool { return m.ID == id })
		if (p.obs.contacted && !listed) || (!p.obs.contacted && podutil.Ready(pod)) {
			continue
		}
		out = append(out, corruptPod{name: pod.Name, id: id, why: "its data disagree with its peers' or its database file cannot be opened"})
	}
	slices.SortFunc(out, func(a, b corruptPod) int { return compareStrings(a.name, b.name) })
	return out
}

// corruptCondition is Degraded's DataCorrupt, if any member is singled
// out or CORRUPT is raised: what is wrong, then what happens next. Pure.
func corruptCondition(p *pass) (string, bool) {
	pods := corruptPods(p)
	alarm := p.obs.hasAlarm(etcdclient.AlarmCorrupt) && !p.corruptDisarmed
	if len(pods) == 0 && !alarm && p.replacingCorrupt == "" {
		return "", false
	}
	var what []string
	if p.replacingCorrupt != "" && len(pods) == 0 {
		what = append(what, "member "+p.replacingCorrupt+" held corrupt data and was removed")
	}
	if len(pods) > 0 {
		var names []string
		for _, m := range pods {
			names = append(names, fmt.Sprintf("%s (ID %x)", m.name, m.id))
		}
		what = append(what, fmt.Sprintf("%s refuse(s) to start: the data on its volume is corrupt", strings.Join(names, ", ")))
	}
	if alarm {
		on := "the cluster"
		var names []string
		for _, m := range p.obs.members {
			if slices.Contains(m.Alarms, string(etcdclient.AlarmCorrupt)) {
				names = append(names, m.Name)
			}
		}
		if len(names) > 0 {
			on = strings.Join(names, ", ")
		}
		what = append(what, "CORRUPT alarm raised on "+on+": the members' data differ and etcd refuses writes")
	}
	if p.corrupt != nil && p.corrupt.Reason != "" {
		what = append(what, p.corrupt.Reason)
	}
	aside := render.DataDir + contract.CorruptSetAsideSuffix + "<time>"
	replace := "the operator replaces it: removes it by ID, restarts its pod, which moves the data aside to " + aside +
		" on its volume (kept for inspection; only the newest copy is kept), adds it back as a learner and promotes it"
	var next string
	a := p.membership
	switch {
	case p.cluster != nil && p.cluster.DesiredReplicas() == 1 && len(p.obs.list) <= 1:
		next = "a single member has nothing to be replaced from: restore the cluster from a backup (an EtcdRestore)"
	case !p.obs.contacted:
		next = "no quorum answers, so no member can be replaced: bring the other members back, or restore the cluster from a backup (an EtcdRestore)"
	case a != nil && a.Kind == membership.Refuse:
		next = a.Reason
	case p.corrupt != nil && p.corrupt.Compared && len(p.corrupt.Corrupt) == 0 && !p.corrupt.Agree && len(pods) == 0 &&
		strings.Contains(p.corrupt.Reason, "cannot tell"):
		next = "the operator cannot tell which member is sound and changes nothing: compare the members (etcdctl endpoint hashkv), " +
			"remove the bad ones (etcdctl member remove) or restore the cluster from a backup (an EtcdRestore)"
	case p.corruptDisarmed || (p.corrupt != nil && p.corrupt.Agree && a != nil && a.Kind == membership.None && len(p.obs.list) > 1):
		next = "every member's HashKV agrees: the operator disarms CORRUPT and writes resume"
	case a != nil && a.Kind != membership.None && p.replacingCorrupt != "" && len(pods) == 0:
		next = "its pod restarted and set the data aside as " + aside + " on its volume (kept for inspection; only the newest copy is kept); " +
			"it is added back as a learner and promoted (now: " + a.Reason + ")"
		if alarm {
			next += "; CORRUPT is disarmed once every member's HashKV agrees"
		}
	case a != nil && a.Kind != membership.None:
		next = replace + " (now: " + a.Reason + ")"
		if alarm {
			next += "; CORRUPT is disarmed once every member's HashKV agrees"
		}
	case p.corrupt != nil && !p.corrupt.Compared:
		next = "the members' HashKV will be compared again on the next pass"
	case len(pods) == 0 && (p.corrupt == nil || len(p.corrupt.Corrupt) == 0):
		next = "the operator compares the members' HashKV (as etcdctl endpoint hashkv does) to find the member whose data differs, " +
			"replaces that member and disarms CORRUPT once every member agrees (etcd op-guide/data_corruption)"
	default:
		next = replace
	}
	return strings.Join(what, "; ") + ". Next: " + next, true
}

func nameOf(p *pass, id uint64) string {
	for _, m := range p.obs.list {
		if m.ID == id && m.Name != "" {
			return m.Name
		}
	}
	return "(not started)"
}

func hexIDs(ids []uint64) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, fmt.Sprintf("%x", id))
	}
	return out
}

// clusterKey names the cluster in the reconciler's memory.
func clusterKey(c *etcdv1.EtcdCluster) string {
	return types.NamespacedName{Namespace: c.Namespace, Name: c.Name}.String()
}
