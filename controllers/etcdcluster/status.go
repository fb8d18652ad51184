package etcdcluster

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/conditions"
	"quorum.dev/etcd-operator/controllers/membership"
	"quorum.dev/etcd-operator/controllers/render"
)

// setStatus writes the status from what the pass saw. It is pure: the
// conditions follow from the observation, the StatefulSet and the step error.
func setStatus(c *etcdv1.EtcdCluster, p *pass, o render.Options, stepErr error) {
	st := &c.Status
	st.Selector = labels.SelectorFromSet(c.SelectorLabels()).String()
	st.ClientEndpoint = c.ClientEndpoint(o.Domain())
	st.CASecretName, st.ClientSecretName = "", ""
	if c.TLSEnabled() {
		st.CASecretName, st.ClientSecretName = c.CASecretName(), c.ClientSecretName()
	}
	if p.sts != nil {
		st.Replicas, st.ReadyReplicas = p.sts.Status.Replicas, p.sts.Status.ReadyReplicas
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

	set := func(t string, ok bool, reason, msg string) {
		conditions.Set(&st.Conditions, c.Generation, t, ok, reason, msg)
	}

	// Available: a quorum of voters answers and there is a leader.
	healthy, voters := p.obs.healthyVoters(), p.obs.voters
	switch {
	case p.obs.quorate():
		set(etcdv1.ConditionAvailable, true, etcdv1.ReasonQuorumHealthy, fmt.Sprintf("%d of %d voting members healthy", healthy, voters))
	case p.obs.contacted:
		set(etcdv1.ConditionAvailable, false, etcdv1.ReasonQuorumLost, fmt.Sprintf("only %d of %d voting members healthy, %d needed for quorum; "+
			"if the missing members cannot come back, restore the latest EtcdBackup in place (an EtcdRestore) or into a new cluster (spec.bootstrap.restore)",
			healthy, voters, membership.Quorum(voters)))
	case p.boot.State != render.StateExisting:
		set(etcdv1.ConditionAvailable, false, etcdv1.ReasonBootstrapping, "waiting for the members of the new cluster to start")
	case p.obs.err != nil:
		set(etcdv1.ConditionAvailable, false, etcdv1.ReasonUnreachable, p.obs.err.Error())
	default:
		set(etcdv1.ConditionAvailable, false, etcdv1.ReasonMembersNotReady, "no member pod is ready")
	}

	// Progressing: the operator still has work to do.
	errReason := etcdv1.ReasonReconcileError
	var se *specError
	if errors.As(stepErr, &se) {
		errReason = se.reason
	}
	desired := c.DesiredReplicas()
	switch {
	case stepErr != nil:
		set(etcdv1.ConditionProgressing, true, errReason, stepErr.Error())
	case p.inPlace != nil && p.inPlace.Spec.FromSurvivor != nil:
		set(etcdv1.ConditionProgressing, true, etcdv1.ReasonRestoringInPlace, fmt.Sprintf("forcing a new cluster from a surviving member (EtcdRestore %s): %s",
			p.inPlace.Name, readyMessage(p)))
	case p.inPlace != nil:
		set(etcdv1.ConditionProgressing, true, etcdv1.ReasonRestoringInPlace, fmt.Sprintf("restoring every member in place (EtcdRestore %s): %s",
			p.inPlace.Name, readyMessage(p)))
	case p.membership != nil && p.membership.Changes():
		set(etcdv1.ConditionProgressing, true, etcdv1.ReasonScaling, p.membership.Reason)
	case p.membership != nil && p.membership.Kind == membership.Refuse:
		set(etcdv1.ConditionProgressing, true, etcdv1.ReasonScaleRefused, p.membership.Reason)
	case p.membership != nil && p.membership.Kind == membership.Wait:
		set(etcdv1.ConditionProgressing, true, etcdv1.ReasonScalePending, p.membership.Reason)
	case p.outdated > 0:
		set(etcdv1.ConditionProgressing, true, etcdv1.ReasonRollingOut, fmt.Sprintf("%d member(s) to restart with the new spec: %s", p.outdated, p.rolloutReason))
	case p.stsReplacing:
		set(etcdv1.ConditionProgressing, true, etcdv1.ReasonVolumeExpanding, "replacing the StatefulSet for its new volume claim template; its pods keep running")
	case p.volumes != nil && p.volumes.Reason == etcdv1.ReasonVolumeExpanding:
		set(etcdv1.ConditionProgressing, true, etcdv1.ReasonVolumeExpanding, p.volumes.Message)
	case p.stsReplicas != desired:
		set(etcdv1.ConditionProgressing, true, etcdv1.ReasonScalePending, fmt.Sprintf("%d members, %d desired: waiting for the cluster to be reachable", p.stsReplicas, desired))
	case p.sts == nil || !rolledOut(p):
		set(etcdv1.ConditionProgressing, true, etcdv1.ReasonMembersNotReady, readyMessage(p))
	default:
		set(etcdv1.ConditionProgressing, false, etcdv1.ReasonReconciled, "cluster matches its spec")
	}

	// Degraded: something is wrong that the user may need to know about.
	var unhealthy []string
	for _, m := range p.obs.members {
		if !m.Healthy {
			name := m.Name
			if name == "" {
				name = "id " + m.ID
			}
			unhealthy = append(unhealthy, name)
		}
	}
	alarmReason, alarmMsg, alarmed := alarmCondition(p)
	switch {
	case alarmed:
		set(etcdv1.ConditionDegraded, true, alarmReason, alarmMsg)
	case stepErr != nil:
		set(etcdv1.ConditionDegraded, true, errReason, stepErr.Error())
	case p.membership != nil && p.membership.Kind == membership.Refuse:
		set(etcdv1.ConditionDegraded, true, etcdv1.ReasonScaleRefused, p.membership.Reason)
	case len(unhealthy) > 0:
		set(etcdv1.ConditionDegraded, true, etcdv1.ReasonMemberUnhealthy, "unhealthy members: "+strings.Join(unhealthy, ", "))
	case p.obs.contacted && healthy == voters:
		set(etcdv1.ConditionDegraded, false, etcdv1.ReasonAllMembersHealthy, "all members healthy")
	default:
		set(etcdv1.ConditionDegraded, false, etcdv1.ReasonMembersNotReady, readyMessage(p))
	}

	// VolumesGrown: only once member claims exist (medium PersistentVolume).
	if p.volumes != nil {
		set(etcdv1.ConditionVolumesGrown, p.volumes.Grown, p.volumes.Reason, p.volumes.Message)
	}

	if stepErr == nil {
		st.ObservedGeneration = c.Generation
	}
}

// rolledOut: every pod exists, is ready and runs the current template
// (outdated pods are counted by the rollout step when etcd answered).
func rolledOut(p *pass) bool {
	s := p.sts.Status
	return s.ObservedGeneration >= p.sts.Generation && s.ReadyReplicas == p.stsReplicas &&
		s.UpdatedReplicas == p.stsReplicas && p.outdated == 0
}

func readyMessage(p *pass) string {
	if p.sts == nil {
		return "statefulset not created yet"
	}
	return fmt.Sprintf("%d of %d member pods ready", p.sts.Status.ReadyReplicas, p.stsReplicas)
}
