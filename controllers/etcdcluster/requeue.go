package etcdcluster

import (
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/membership"
)

// nextPass chooses when the cluster is looked at again, from the pass's
// outcome and the status it wrote. A pass never sleeps; it asks for a
// requeue instead (watches on the cluster's children bring one sooner when
// they change).
//   - a spec naming something missing: requeueSpecError (the user acts);
//   - a planned wait (a backup running), maintenance with work left:
//     requeueSettling;
//   - any other error: controller-runtime's backoff (up to maxErrorBackoff);
//   - a membership change made, or refused by etcd for a moment:
//     requeueMembership;
//   - Available and not Progressing: requeueHealthy (alarms have no event);
//   - otherwise (settling): requeueSettling.
func nextPass(p *pass, c *etcdv1.EtcdCluster, stepErr error) (ctrl.Result, error) {
	var se *specError
	switch {
	case errors.As(stepErr, &se):
		// Objects users name are not watched: look again now and then.
		return ctrl.Result{RequeueAfter: requeueSpecError}, nil
	case errors.As(stepErr, new(*waitError)):
		// EtcdBackups are not watched: look again soon.
		return ctrl.Result{RequeueAfter: requeueSettling}, nil
	case stepErr != nil:
		return ctrl.Result{}, stepErr
	case p.maintBusy:
		return ctrl.Result{RequeueAfter: requeueSettling}, nil
	case p.membershipSoon:
		return ctrl.Result{RequeueAfter: requeueMembership}, nil
	case meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable) &&
		!meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionProgressing):
		return ctrl.Result{RequeueAfter: requeueHealthy}, nil
	}
	return ctrl.Result{RequeueAfter: requeueSettling}, nil
}

// lookAgainSoon tells whether the pass after a membership change comes in
// requeueMembership: the change was made (after is its kind), or etcd
// refused it for a moment (etcdclient.RefusedForNow). The next change of a
// scale usually follows at once, and nothing in Kubernetes announces that
// this one took effect. Not after a wait on Kubernetes objects (after is
// Wait: claims still being freed), whose watches bring the next pass, nor
// after an error, which controller-runtime backs off.
func lookAgainSoon(after membership.Kind, err error) bool {
	if err != nil {
		return etcdclient.RefusedForNow(err)
	}
	return after != membership.Wait
}

// learnerWindow: for this long after a learner's pod was created, a pass
// that waits for the learner (to start, answer, catch up) comes back in
// requeueMembership rather than requeueSettling. A learner is not ready
// (etcd's /readyz), so no pod event announces that it caught up. A pod
// older than this is stuck, not starting: the usual pace is enough.
const learnerWindow = time.Minute

// learnerStarting tells whether action is the planner waiting on a learner
// whose pod was created within learnerWindow of now.
func learnerStarting(snap membership.Snapshot, action membership.Action, now time.Time) bool {
	if action.Kind != membership.Wait {
		return false
	}
	learners := 0
	for _, m := range snap.Members {
		if m.IsLearner {
			learners++
		}
	}
	pod, ok := snap.Pods[action.Ordinal]
	return learners > 0 && ok && pod.Exists && now.Sub(pod.Created) < learnerWindow
}
