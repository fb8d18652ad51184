package etcdcluster

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// readiness: Ready is True only when the cluster is Available, not
// Degraded, not Progressing, and maintenance has no work left (maint is
// what it does next, "" when nothing). Otherwise it carries the reason of
// the first of these that holds. Pure: conds are the conditions this pass
// wrote.
func readiness(conds []metav1.Condition, maint string) condition {
	a := meta.FindStatusCondition(conds, etcdv1.ConditionAvailable)
	d := meta.FindStatusCondition(conds, etcdv1.ConditionDegraded)
	pr := meta.FindStatusCondition(conds, etcdv1.ConditionProgressing)
	switch {
	case a == nil:
		return no(etcdv1.ReasonBootstrapping, "not Available yet: the members have not been asked")
	case a.Status != metav1.ConditionTrue:
		return no(a.Reason, "not Available: "+a.Message)
	case d != nil && d.Status == metav1.ConditionTrue:
		return no(d.Reason, "Degraded: "+d.Message)
	case pr != nil && pr.Status == metav1.ConditionTrue:
		return no(pr.Reason, "in progress: "+pr.Message)
	case pr == nil:
		return no(etcdv1.ReasonBootstrapping, "the operator has not compared the cluster with its spec yet")
	case maint != "":
		return no(etcdv1.ReasonMaintaining, "maintenance under way: "+maint)
	default:
		return yes(etcdv1.ReasonReconciled, "Available, and nothing is in progress")
	}
}

// maintenanceWork is what storage maintenance does next while it has work
// left (a defragmentation round, NOSPACE recovery), "" when none.
func maintenanceWork(p *pass) string {
	if !p.maintBusy {
		return ""
	}
	if p.maint != nil && p.maint.Reason != "" {
		return p.maint.Reason
	}
	if d := p.cluster.Status.Defragmentation; d != nil && len(d.Pending) > 0 {
		return "defragmenting " + strings.Join(d.Pending, ", ")
	}
	return "storage maintenance has work left"
}

// leaderName is the name of the member etcd reports as leader, or "".
func leaderName(o observation) string {
	for _, m := range o.members {
		if m.Role == etcdv1.RoleLeader {
			return m.Name
		}
	}
	return ""
}
