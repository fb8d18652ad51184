package etcdcluster

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/podcause"
	"quorum.dev/etcd-operator/controllers/internal/podutil"
)

// memberPodCluster maps a member pod to its EtcdCluster, by the labels of
// EtcdCluster.SelectorLabels (app.kubernetes.io/name=etcd and
// app.kubernetes.io/instance=<cluster>); other pods map to nothing. Member
// pods are owned by the StatefulSet, not by the cluster, so owner
// references do not lead there.
func memberPodCluster(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[etcdv1.LabelName] != etcdv1.NameValue || l[etcdv1.LabelInstance] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: l[etcdv1.LabelInstance]}}}
}

// memberPodChanged lets through the pod events that change what the
// status says of the members: a pod created or deleted, and an update that
// changes podState. Other updates (a restart count, a new IP) wait for the
// next pass, so that a running cluster costs no extra passes.
var memberPodChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*corev1.Pod)
		now, okNew := e.ObjectNew.(*corev1.Pod)
		return !okOld || !okNew || podState(old) != podState(now)
	},
}

// podStateOf is what of a member pod the status depends on.
type podStateOf struct {
	ready, deleting, mayAnswer bool
	phase                      corev1.PodPhase
	cause                      string // podcause reason, "" when ready
}

func podState(p *corev1.Pod) podStateOf {
	s := podStateOf{ready: podutil.Ready(p), deleting: !p.DeletionTimestamp.IsZero(), mayAnswer: podutil.MayAnswer(p), phase: p.Status.Phase}
	if c, ok := podcause.Of(p); ok {
		s.cause = c.Reason
	}
	return s
}
