package etcdcluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/conditions"
)

// pausedMessage is the Paused and Ready conditions' message while the
// cluster is paused: what is stopped and how to resume.
var pausedMessage = fmt.Sprintf("the %s annotation is \"true\": the operator changes nothing of this cluster "+
	"(no child object, membership change, rollout, restore step, TLS migration step or maintenance), does not contact etcd "+
	"and keeps the rest of the status as last written, until the annotation is removed; spec changes made meanwhile wait "+
	"(observedGeneration stays behind)", etcdv1.AnnotationPaused)

// paused is the whole pass of a paused cluster (AnnotationPaused): no step
// runs; the status is frozen except the Paused and Ready conditions,
// written by pausedStatus; a Normal event announces the pause once. No
// requeue: removing the annotation is an update of the cluster, which is
// watched, and resumes.
func (r *Reconciler) paused(ctx context.Context, c *etcdv1.EtcdCluster) (ctrl.Result, error) {
	log.FromContext(ctx).V(1).Info("paused: nothing is reconciled", "annotation", etcdv1.AnnotationPaused)
	original := c.DeepCopy()
	pausedStatus(c)
	if !equality.Semantic.DeepEqual(original.Status, c.Status) {
		if err := r.Status().Patch(ctx, c, client.MergeFrom(original)); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("patching the status of a paused cluster: %w", err)
		}
	}
	key := types.NamespacedName{Namespace: c.Namespace, Name: c.Name}.String() + "/" + etcdv1.ConditionPaused
	if last, seen := r.announced.Swap(key, true); !seen || last != true {
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, etcdv1.ReasonPaused, "Pause", "%s", pausedMessage)
	}
	return ctrl.Result{}, nil
}

// pausedStatus sets Paused True and Ready False (reason Paused) and the
// list view's reason; nothing else of the status changes. Pure.
func pausedStatus(c *etcdv1.EtcdCluster) {
	st := &c.Status
	conditions.Set(&st.Conditions, c.Generation, etcdv1.ConditionPaused, true, etcdv1.ReasonPaused, pausedMessage)
	conditions.Set(&st.Conditions, c.Generation, etcdv1.ConditionReady, false, etcdv1.ReasonPaused, pausedMessage)
	st.Reason = summaryReason(st.Conditions)
}

// recordResumed records a Normal Resumed event when a pass runs on a
// cluster that was paused (its Paused condition removed by setStatus, or
// a pause announced by this operator), once.
func (r *Reconciler) recordResumed(before *etcdv1.EtcdCluster) {
	key := types.NamespacedName{Namespace: before.Namespace, Name: before.Name}.String() + "/" + etcdv1.ConditionPaused
	last, seen := r.announced.Swap(key, false)
	if (seen && last == true) || (!seen && meta.IsStatusConditionTrue(before.Status.Conditions, etcdv1.ConditionPaused)) {
		r.Recorder.Eventf(before, nil, corev1.EventTypeNormal, etcdv1.ReasonResumed, "Resume",
			"the %s annotation was removed: reconciling resumes", etcdv1.AnnotationPaused)
	}
}
