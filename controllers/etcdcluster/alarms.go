package etcdcluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/maintenance"
)

// knownAlarms are the alarm types etcd raises, in the order they are shown
// and exported as metrics.
var knownAlarms = []etcdclient.AlarmType{etcdclient.AlarmNoSpace, etcdclient.AlarmCorrupt}

// readAlarms returns the cluster's alarm list: from etcd's Alarm RPC (it
// goes through raft, so it needs a leader), else the union of what the
// members' statuses report (each member reports the cluster-wide list).
func (r *Reconciler) readAlarms(ctx context.Context, cl etcdclient.Client, o observation) []etcdclient.Alarm {
	if o.leader != 0 {
		as, err := cl.Alarms(ctx)
		if err == nil {
			return as
		}
		log.FromContext(ctx).V(1).Info("alarm list unavailable, using the members' statuses", "error", err.Error())
	}
	var out []etcdclient.Alarm
	for _, st := range o.statuses {
		for _, a := range st.ClusterAlarms {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// memberAlarms lists the alarm types raised for member id, sorted.
func memberAlarms(as []etcdclient.Alarm, id uint64) []string {
	var out []string
	for _, a := range as {
		if a.MemberID == id && !slices.Contains(out, string(a.Type)) {
			out = append(out, string(a.Type))
		}
	}
	slices.Sort(out)
	return out
}

// alarmCondition is the Degraded condition an alarm calls for, if any:
// ok is false when no alarm is raised. CORRUPT comes first: while it is
// raised the operator only replaces the member whose data differs and
// disarms it (corruption.go). The message says what the operator
// does next and what is left to the user. Pure.
func alarmCondition(p *pass) (reason, msg string, ok bool) {
	on := func(t etcdclient.AlarmType) string {
		var names []string
		for _, m := range p.obs.members {
			if slices.Contains(m.Alarms, string(t)) {
				names = append(names, m.Name)
			}
		}
		if len(names) == 0 {
			return "a member"
		}
		return strings.Join(names, ", ")
	}
	switch {
	case p.obs.hasAlarm(etcdclient.AlarmCorrupt):
		msg, _ := corruptCondition(p)
		return etcdv1.ReasonDataCorrupt, msg, true
	case p.obs.hasAlarm(etcdclient.AlarmNoSpace):
		head := fmt.Sprintf("NOSPACE alarm raised on %s: the database reached its quota and etcd takes only reads and deletes", on(etcdclient.AlarmNoSpace))
		a := p.maint
		switch {
		case a == nil:
			return etcdv1.ReasonNoSpace, head + "; the operator will compact, defragment and disarm once it can reach every voter", true
		case a.Kind == maintenance.QuotaFull:
			return etcdv1.ReasonNoSpace, head + "; " + a.Reason + ". Deleted keys are compacted and defragmented away by the operator, " +
				"which then disarms; a larger spec.quota.backendBytes is rolled out member by member, and the operator disarms once the new quota leaves room", true
		default:
			// A stable message: the step under way is in the events and the
			// operator's log, and a changing message would be an event a pass.
			return etcdv1.ReasonNoSpace, head + "; the operator is recovering: it compacts to the current revision, defragments each member " +
				"(followers first, the leader last) and disarms the alarm; writes resume after the disarm", true
		}
	}
	return "", "", false
}

// recordAlarms emits an event for each alarm raised or cleared since the
// last status, and exports one gauge per (member, alarm type).
func (r *Reconciler) recordAlarms(c *etcdv1.EtcdCluster, before []etcdv1.MemberStatus, p *pass) {
	if !p.obs.contacted {
		return
	}
	had := map[string]bool{}
	for _, m := range before {
		for _, a := range m.Alarms {
			had[m.Name+"/"+a] = true
		}
	}
	for _, m := range p.obs.members {
		for _, t := range knownAlarms {
			raised := slices.Contains(m.Alarms, string(t))
			v := 0.0
			if raised {
				v = 1
			}
			memberAlarm.WithLabelValues(c.Namespace, c.Name, m.Name, string(t)).Set(v)
			key := m.Name + "/" + string(t)
			switch {
			case raised && !had[key]:
				r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, "AlarmRaised", "Observe", "%s alarm raised on member %s", t, m.Name)
			case !raised && had[key]:
				r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "AlarmCleared", "Observe", "%s alarm cleared on member %s", t, m.Name)
			}
		}
	}
}
