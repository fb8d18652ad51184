package etcdcluster

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/internal/conditions"
	"quorum.dev/etcd-operator/controllers/internal/podcause"
	"quorum.dev/etcd-operator/controllers/internal/podutil"
	"quorum.dev/etcd-operator/controllers/membership"
	"quorum.dev/etcd-operator/controllers/render"
)

// setStatus writes the status from what the pass saw. It is pure: the
// conditions follow from the observation, the member pods, the StatefulSet
// and the step error. Each condition is one function below, a switch whose
// first matching case wins, most telling first:
//   - Available: does a quorum serve? (availability)
//   - Progressing: what the operator is doing or waiting for; False
//     (Reconciled) only when the observed cluster matches the spec
//     (progressing);
//   - Degraded: what is wrong that waiting will not fix, with the
//     Kubernetes cause of a member that does not run (degradation). A
//     planned step (bootstrap, scaling, a rollout, a restore) is
//     Progressing, never Degraded, unless a pod is stuck;
//   - Ready: Available with nothing in progress (readiness).
//
// status.readyReplicas counts the member pods that are ready and not
// being deleted, and status.leader names the leader etcd reported, both
// from this pass when it observed the members.
func setStatus(c *etcdv1.EtcdCluster, p *pass, o render.Options, stepErr error) {
	st := &c.Status
	st.Selector = labels.SelectorFromSet(c.SelectorLabels()).String()
	st.ClientEndpoint = c.ClientEndpoint(o.Domain())
	st.CASecretName, st.ClientSecretName = "", ""
	if c.TLSEnabled() {
		st.CASecretName, st.ClientSecretName = c.CASecretName(), c.ClientSecretName()
	}
	if p.sts != nil {
		st.Replicas = p.sts.Status.Replicas
	}
	if n, ok := readyPods(p); ok {
		st.ReadyReplicas = n
	}
	if c.AuthEnabled() {
		st.RootPasswordSecretName = c.RootPasswordSecretName()
	} else {
		st.RootPasswordSecretName = ""
	}
	if p.authEnabled {
		st.AuthEnabled = true
	}
	if p.obs.contacted {
		st.Members = p.obs.members
		st.ClusterID = fmt.Sprintf("%x", p.obs.clusterID)
	}
	if p.observed {
		// Members keeps what was last seen of each member; the leader is
		// only named while some member answers.
		st.Leader = ""
		if !membersGone(p) {
			st.Leader = leaderName(p.obs)
		}
	}

	pods := podsOf(p)
	for _, t := range []struct {
		typ  string
		cond condition
	}{
		{etcdv1.ConditionAvailable, availability(p, pods)},
		{etcdv1.ConditionProgressing, progressing(c, p, pods, stepErr)},
		{etcdv1.ConditionDegraded, degradation(c, p, pods, stepErr)},
	} {
		if t.typ == etcdv1.ConditionAvailable && !p.observed && stepErr != nil &&
			meta.FindStatusCondition(st.Conditions, etcdv1.ConditionAvailable) != nil {
			// An earlier step failed (a bad key or Secret, a refused
			// Service): the members were not asked this pass, so what was
			// last seen of them stands; Degraded says what failed.
			continue
		}
		conditions.Set(&st.Conditions, c.Generation, t.typ, t.cond.ok, t.cond.reason, t.cond.msg)
	}
	// A pass runs only on a cluster that is not paused (pause.go).
	meta.RemoveStatusCondition(&st.Conditions, etcdv1.ConditionPaused)
	// Ready: from the three above, and whether maintenance has work left.
	ready := readiness(st.Conditions, maintenanceWork(p))
	conditions.Set(&st.Conditions, c.Generation, etcdv1.ConditionReady, ready.ok, ready.reason, ready.msg)
	// VolumesGrown: only once member claims exist (medium PersistentVolume).
	if p.volumes != nil {
		conditions.Set(&st.Conditions, c.Generation, etcdv1.ConditionVolumesGrown, p.volumes.Grown, p.volumes.Reason, p.volumes.Message)
	}
	// CertificatesExpiring: a warning, which Ready does not read.
	setCertificatesCondition(c, p)
	st.Reason = summaryReason(st.Conditions)

	if stepErr == nil {
		st.ObservedGeneration = c.Generation
	}
}

// membersGone: etcd answered at the observe step, but the member pods as
// read again at the end of the pass (Reconcile) show that none may answer
// any more: every pod was deleted (or stopped) while the pass ran, so
// what etcd said is already stale.
func membersGone(p *pass) bool {
	return p.obs.contacted && len(p.pods) > 0 && !mayAnswer(p)
}

// condition is one condition's status, reason and message.
type condition struct {
	ok          bool
	reason, msg string
}

func yes(reason, msg string) condition { return condition{true, reason, msg} }
func no(reason, msg string) condition  { return condition{false, reason, msg} }

// availability: a quorum of voters answers and there is a leader.
func availability(p *pass, pods podProblems) condition {
	healthy, voters := p.obs.healthyVoters(), p.obs.voters
	switch {
	case membersGone(p):
		return no(etcdv1.ReasonMembersNotReady, "no member pod is ready or running: etcd answered earlier in this pass, "+
			"but every member is going away or has stopped"+pods.because())
	case p.obs.quorate():
		return yes(etcdv1.ReasonQuorumHealthy, fmt.Sprintf("%d of %d voting members healthy", healthy, voters))
	case p.obs.contacted:
		return no(etcdv1.ReasonQuorumLost, fmt.Sprintf("only %d of %d voting members healthy, %d needed for quorum%s; "+
			"the operator waits for them to come back (a restarting pod, a node coming back); only if they cannot (their volumes are lost), "+
			"restore the latest EtcdBackup in place (an EtcdRestore) or into a new cluster (spec.bootstrap.restore)",
			healthy, voters, membership.Quorum(voters), pods.because()))
	case errors.As(p.obs.err, new(*authRejectedError)):
		// Before Bootstrapping: a cluster recreated on kept volumes starts
		// with a new bootstrap state, and its data may refuse the password.
		return no(etcdv1.ReasonAuthRejected, p.obs.err.Error())
	case errors.As(p.obs.err, new(*specError)):
		// No password to authenticate with (AuthSecretMissing): the
		// members were not asked, which is not their being unreachable.
		return no(errorReason(p.obs.err), "the operator cannot ask the members: "+p.obs.err.Error())
	case p.boot.State != render.StateExisting:
		return no(etcdv1.ReasonBootstrapping, "waiting for the members of the new cluster to start"+pods.because())
	case p.obs.err != nil:
		return no(etcdv1.ReasonUnreachable, p.obs.err.Error()+pods.because())
	default:
		return no(etcdv1.ReasonMembersNotReady, "no member pod is ready"+pods.because())
	}
}

// progressing: the operator still has work to do, or waits for the
// cluster to get there.
func progressing(c *etcdv1.EtcdCluster, p *pass, pods podProblems, stepErr error) condition {
	desired := c.DesiredReplicas()
	switch {
	case expectedError(c, p, stepErr):
		return yes(etcdv1.ReasonScalingDown, fmt.Sprintf("%s: a removed member stopped while answering (%v); trying again", readyMessage(c, p), stepErr))
	case stepErr != nil:
		return yes(errorReason(stepErr), stepErr.Error())
	case p.inPlace != nil && p.inPlace.Spec.FromSurvivor != nil:
		return yes(etcdv1.ReasonRestoringInPlace, fmt.Sprintf("forcing a new cluster from a surviving member (EtcdRestore %s): %s%s",
			p.inPlace.Name, readyMessage(c, p), pods.because()))
	case rollingBack(c, p.inPlace):
		return yes(etcdv1.ReasonRestoreRollingBack, fmt.Sprintf("the in-place restore (EtcdRestore %s) failed: %s; putting every member back on its data from before the restore: %s%s",
			p.inPlace.Name, c.Status.Restore.Failure, readyMessage(c, p), pods.because()))
	case p.inPlace != nil:
		return yes(etcdv1.ReasonRestoringInPlace, fmt.Sprintf("restoring every member in place (EtcdRestore %s): %s%s",
			p.inPlace.Name, readyMessage(c, p), pods.because()))
	case p.membership != nil && p.membership.Changes():
		return yes(etcdv1.ReasonScaling, p.membership.Reason)
	case p.membership != nil && p.membership.Kind == membership.Refuse:
		return yes(etcdv1.ReasonScaleRefused, p.membership.Reason)
	case p.membership != nil && p.membership.Kind == membership.Wait:
		return yes(etcdv1.ReasonScalePending, p.membership.Reason+pods.because())
	case p.rolloutHalt != nil:
		// Stuck or blocked: nothing more happens until the spec changes.
		return no(p.rolloutHalt.Reason, p.rolloutHalt.Message)
	case p.switchRefused != "":
		return yes(etcdv1.ReasonCertificateSwitchRefused, p.switchRefused)
	case p.tlsMessage != "":
		return yes(etcdv1.ReasonTLSMigrating, p.tlsMessage+pods.because())
	case p.switchMessage != "":
		return yes(etcdv1.ReasonCertificateSwitching, p.switchMessage+pods.because())
	case p.caMessage != "":
		return yes(etcdv1.ReasonCARotating, p.caMessage+pods.because())
	case p.checking != "":
		return yes(etcdv1.ReasonRollingOut, p.checking+pods.because())
	case p.outdated > 0:
		return yes(etcdv1.ReasonRollingOut, fmt.Sprintf("%d member(s) to restart with the new spec: %s%s", p.outdated, p.rolloutReason, pods.because()))
	case p.stsReplacing:
		return yes(etcdv1.ReasonVolumeExpanding, "replacing the StatefulSet for its new volume claim template; its pods keep running")
	case p.volumes != nil && p.volumes.Reason == etcdv1.ReasonVolumeExpanding:
		return yes(etcdv1.ReasonVolumeExpanding, p.volumes.Message)
	case p.stsReplicas != desired:
		return yes(etcdv1.ReasonScalePending, fmt.Sprintf("%s: waiting for the cluster to be reachable%s", readyMessage(c, p), pods.because()))
	case p.boot.State != render.StateExisting:
		return yes(etcdv1.ReasonBootstrapping, "creating the cluster: "+readyMessage(c, p)+pods.because())
	case !matchesSpec(c, p):
		return yes(etcdv1.ReasonMembersNotReady, "waiting for every member to be ready and healthy: "+readyMessage(c, p)+pods.because())
	default:
		return no(etcdv1.ReasonReconciled, "cluster matches its spec")
	}
}

// degradation: something is wrong that the user may need to know about.
// Members on their way out (ordinal >= spec.replicas) and members a planned
// step is restarting or adding are not counted, unless their pod is stuck.
func degradation(c *etcdv1.EtcdCluster, p *pass, pods podProblems, stepErr error) condition {
	unhealthy := unhealthyVoters(c, p, pods)
	if msg, corrupt := corruptCondition(p); corrupt {
		return yes(etcdv1.ReasonDataCorrupt, msg)
	}
	if reason, msg, alarmed := alarmCondition(p); alarmed {
		return yes(reason, msg)
	}
	switch {
	case stepErr != nil && !expectedError(c, p, stepErr) && !errors.As(stepErr, new(*waitError)):
		return yes(errorReason(stepErr), stepErr.Error())
	case errors.As(p.obs.err, new(*authRejectedError)):
		return yes(etcdv1.ReasonAuthRejected, p.obs.err.Error())
	case p.passwordKeyMissing != nil:
		return yes(p.passwordKeyMissing.reason, p.passwordKeyMissing.msg)
	case p.certIssuance != nil:
		return yes(p.certIssuance.reason, p.certIssuance.msg)
	case p.membership != nil && p.membership.Kind == membership.Refuse:
		return yes(etcdv1.ReasonScaleRefused, p.membership.Reason)
	case p.rolloutHalt != nil:
		return yes(p.rolloutHalt.Reason, p.rolloutHalt.Message)
	case p.switchRefused != "":
		return yes(etcdv1.ReasonCertificateSwitchRefused, p.switchRefused)
	case len(pods.stuck) > 0:
		return yes(etcdv1.ReasonMemberPodsFailing, fmt.Sprintf("member pods cannot run: %s; they are retried as Kubernetes restarts them, "+
			"but waiting will not help: correct the spec (version, options, resources) or the environment (image, Secrets, nodes, storage)",
			joinCauses(pods.stuck)))
	case len(unhealthy) > 0:
		return yes(etcdv1.ReasonMemberUnhealthy, "unhealthy members: "+strings.Join(unhealthy, ", ")+"; the operator waits for them to recover")
	case p.obs.contacted && p.obs.healthyVoters() == p.obs.voters:
		return no(etcdv1.ReasonAllMembersHealthy, "all members healthy")
	case p.boot.State != render.StateExisting:
		return no(etcdv1.ReasonBootstrapping, "creating the cluster: "+readyMessage(c, p)+pods.because())
	default:
		return no(etcdv1.ReasonMembersNotReady, readyMessage(c, p)+pods.because())
	}
}

// expectedError: the step error came from a member that stopped because
// it was just removed, while the cluster scales down (more pods than
// spec.replicas). The next pass lists the members again; it is no warning.
func expectedError(c *etcdv1.EtcdCluster, p *pass, err error) bool {
	return err != nil && etcdclient.FromStoppingMember(err) && p.stsReplicas > c.DesiredReplicas()
}

// errorReason is the reason of a failed step: the spec error's or the
// planned wait's own, else ReconcileError.
func errorReason(err error) string {
	var se *specError
	if errors.As(err, &se) {
		return se.reason
	}
	var we *waitError
	if errors.As(err, &we) {
		return we.reason
	}
	return etcdv1.ReasonReconcileError
}

// summaryReason is what the list view's REASON column shows: Paused's
// reason when it is True, else Degraded's when it is True, else
// Progressing's when it is True, else Available's. Pure.
func summaryReason(conds []metav1.Condition) string {
	for _, t := range []string{etcdv1.ConditionPaused, etcdv1.ConditionDegraded, etcdv1.ConditionProgressing} {
		if meta.IsStatusConditionTrue(conds, t) {
			return meta.FindStatusCondition(conds, t).Reason
		}
	}
	if a := meta.FindStatusCondition(conds, etcdv1.ConditionAvailable); a != nil {
		return a.Reason
	}
	return ""
}

// podProblems is why member pods are not ready, from podcause.
type podProblems struct {
	byPod map[string]podcause.Cause // every pod that is not ready
	// stuck: pods that will not become ready without a change, except
	// pods of members on their way out (ordinal >= spec.replicas).
	stuck []podcause.Cause
	// all: every pod that is not ready, stuck first, in one line.
	all string
}

func podsOf(p *pass) podProblems {
	out := podProblems{byPod: map[string]podcause.Cause{}}
	desired := int(p.cluster.DesiredReplicas())
	var all []podcause.Cause
	for i := range p.pods {
		cause, ok := podcause.Of(&p.pods[i])
		if !ok {
			continue
		}
		if cl, known := p.claims[cause.Pod]; known {
			cause = podcause.WithClaim(cause, cl)
		}
		out.byPod[cause.Pod] = cause
		all = append(all, cause)
		if o, member := p.cluster.MemberOrdinal(cause.Pod); cause.Stuck && member && o < desired {
			out.stuck = append(out.stuck, cause)
		}
	}
	// Stuck pods first, as podcause.Summary orders them.
	sort.SliceStable(all, func(i, j int) bool { return all[i].Stuck && !all[j].Stuck })
	out.all = joinCauses(all)
	return out
}

// because is " (<why pods are not ready>)", or "" when every pod is.
func (pp podProblems) because() string {
	if pp.all == "" {
		return ""
	}
	return " (" + pp.all + ")"
}

// joinCauses is "<pods>: <message>; ...", pods with the same message
// together ("x-0, x-1: image ... cannot be pulled"), in the order of their
// first pod in cs, pods by ordinal.
func joinCauses(cs []podcause.Cause) string {
	var order []string
	pods := map[string][]string{}
	for _, c := range cs {
		if _, ok := pods[c.Message]; !ok {
			order = append(order, c.Message)
		}
		pods[c.Message] = append(pods[c.Message], c.Pod)
	}
	parts := make([]string, 0, len(order))
	for _, msg := range order {
		names := pods[msg]
		sort.Slice(names, func(i, j int) bool { return byOrdinal(names[i], names[j]) })
		parts = append(parts, strings.Join(names, ", ")+": "+msg)
	}
	return strings.Join(parts, "; ")
}

// byOrdinal orders pod names by their trailing ordinal ("x-9" before
// "x-10"), then by name.
func byOrdinal(a, b string) bool {
	oa, ea := ordinalSuffix(a)
	ob, eb := ordinalSuffix(b)
	if ea == nil && eb == nil && oa != ob {
		return oa < ob
	}
	return a < b
}

func ordinalSuffix(name string) (int, error) {
	return strconv.Atoi(name[strings.LastIndex(name, "-")+1:])
}

// unhealthyVoters names the voters that do not answer and whose absence is
// not planned, each with its pod's cause when known. Not counted: learners
// (a new learner does not answer until its pod starts: scaling up), members
// at ordinals >= spec.replicas (scaling down), and, while the cluster is
// forming or a rollout or an in-place restore is restarting members,
// members whose pod is not stuck.
func unhealthyVoters(c *etcdv1.EtcdCluster, p *pass, pods podProblems) []string {
	// A member that misses a status call while a planned change moves
	// members (a rollout, a learner joining, a member leaving) is that
	// change's doing, shown in Progressing; only a stuck pod degrades.
	planned := p.boot.State != render.StateExisting || p.inPlace != nil || p.outdated > 0 ||
		(p.sts != nil && p.sts.Status.UpdatedReplicas < p.sts.Status.Replicas) ||
		(p.membership != nil && p.membership.Kind != membership.None && p.membership.Kind != membership.Refuse)
	desired := int(c.DesiredReplicas())
	var out []string
	for _, m := range p.obs.members {
		if m.Healthy || m.Role == etcdv1.RoleLearner {
			continue
		}
		o, ok := c.MemberOrdinal(m.Name)
		if ok && o >= desired {
			continue
		}
		cause, known := pods.byPod[m.Name]
		if planned && !(known && cause.Stuck) {
			continue
		}
		name := m.Name
		if name == "" {
			name = "id " + m.ID
		}
		switch {
		case known:
			name += " (" + cause.Message + ")"
		case m.Error != "":
			name += " (" + m.Error + ")"
		}
		out = append(out, name)
	}
	return out
}

// matchesSpec: etcd answered with a quorum, the member list holds exactly
// spec.replicas healthy voters at ordinals below it, and every pod exists,
// is ready and runs the current template.
func matchesSpec(c *etcdv1.EtcdCluster, p *pass) bool {
	desired := int(c.DesiredReplicas())
	if p.sts == nil || !rolledOut(p) || !p.obs.quorate() || len(p.obs.members) != desired {
		return false
	}
	for _, m := range p.obs.members {
		o, ok := c.MemberOrdinal(m.Name)
		if !m.Healthy || m.Role == etcdv1.RoleLearner || !ok || o >= desired {
			return false
		}
	}
	return true
}

// rolledOut: every pod exists, is ready and runs the current template
// (outdated pods are counted by the rollout step when etcd answered).
func rolledOut(p *pass) bool {
	s := p.sts.Status
	return s.ObservedGeneration >= p.sts.Generation && s.ReadyReplicas == p.stsReplicas &&
		s.UpdatedReplicas == p.stsReplicas && p.outdated == 0
}

// readyPods counts the ready member pods (a pod being deleted is not
// ready) when the pass listed them: from the pods (watched), not the
// StatefulSet's status, which follows them only after the StatefulSet
// controller's next pass. ok is false when the pods were not listed.
func readyPods(p *pass) (n int32, ok bool) {
	if !p.observed && !p.podsListed {
		return 0, false
	}
	return podutil.ReadyMembers(p.pods), true
}

// readyMessage counts pods against the spec: "5 pods (5 ready), 3 wanted".
// The ready count is the one status.readyReplicas shows (readyPods), or
// the StatefulSet's when the pods were not listed.
func readyMessage(c *etcdv1.EtcdCluster, p *pass) string {
	if p.sts == nil {
		return fmt.Sprintf("no StatefulSet yet, %d pods wanted", c.DesiredReplicas())
	}
	ready, ok := readyPods(p)
	if !ok {
		ready = p.sts.Status.ReadyReplicas
	}
	return fmt.Sprintf("%d pods (%d ready), %d wanted", p.sts.Status.Replicas, ready, c.DesiredReplicas())
}
