package etcdcluster

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/podutil"
	"quorum.dev/etcd-operator/controllers/render"
)

// applyStatefulSet applies the members' StatefulSet. A new cluster starts
// with its desired size; an existing StatefulSet keeps its size here, since
// membership changes go one safe step at a time (see the membership step).
//
// A StatefulSet's volumeClaimTemplates are immutable (Kubernetes API,
// StatefulSet spec), so when storage.size grew the StatefulSet is deleted
// with its pods orphaned and applied anew on a later pass; the new one
// adopts the pods, and since the pod template did not change its update
// revision is theirs: with the OnDelete strategy nothing restarts. Safe to
// re-run at any point: a StatefulSet still being deleted is waited for,
// and a missing one is recreated with as many replicas as member pods
// exist. The replacement waits while an in-place restore or a membership
// change is under way (the claim template in force is kept meanwhile).
func (r *Reconciler) applyStatefulSet(ctx context.Context, p *pass) error {
	c := p.cluster
	current := &appsv1.StatefulSet{}
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.StatefulSetName()}, current)
	replicas := c.DesiredReplicas()
	switch {
	case apierrors.IsNotFound(err):
		n, err := r.orphanedMembers(ctx, c)
		if err != nil {
			return err
		}
		if n > 0 && p.inPlace == nil {
			// Recreated after a replacement (or a deletion that kept the
			// pods): keep the members there are.
			replicas = n
		}
	case err != nil:
		return fmt.Errorf("reading statefulset: %w", err)
	case !current.DeletionTimestamp.IsZero():
		// Being replaced: the garbage collector is orphaning its pods.
		p.stsReplacing, p.sts = true, current
		p.stsReplicas = ptr.Deref(current.Spec.Replicas, replicas)
		log.FromContext(ctx).V(1).Info("waiting for the replaced statefulset to be deleted", "statefulset", current.Name)
		return nil
	case p.inPlace != nil && p.inPlace.Spec.FromSurvivor == nil:
		// An in-place restore starts every desired member from the snapshot.
	case current.Spec.Replicas != nil:
		replicas = *current.Spec.Replicas
	}
	p.stsReplicas = replicas
	live := current
	if err != nil {
		live = nil
	}
	pods, err := podutil.ListMembers(ctx, r.Client, c)
	if err != nil {
		return err
	}
	if err := r.chooseRevision(ctx, p, live, pods); err != nil {
		return err
	}
	if err := r.keepRolledBack(ctx, p, live); err != nil {
		return err
	}
	if live != nil && claimTemplatesDiffer(current, render.StatefulSet(c, r.Render, replicas, render.Revision{}, nil)) {
		if why := replaceWaits(p, current); why != "" {
			log.FromContext(ctx).V(1).Info("claim template changed; replacing the statefulset waits", "why", why)
			p.claimTemplates = current.Spec.VolumeClaimTemplates
		} else {
			return r.replaceStatefulSet(ctx, p, current)
		}
	}
	if err := r.applyOptions(ctx, p); err != nil {
		return err
	}
	sts := r.renderStatefulSet(p, replicas)
	if err := r.apply(ctx, c, sts); err != nil {
		return err
	}
	if err := r.Get(ctx, client.ObjectKeyFromObject(sts), current); err == nil {
		p.sts = current
	}
	return r.collectOptions(ctx, p)
}

// renderStatefulSet renders the StatefulSet with replicas and the revision
// chosen this pass, keeping the live claim templates when their
// replacement waits. While the spec's revision is held, the live pod
// template is kept whole (resources and scheduling changed with it wait
// too), and while a stuck rollout is rolled back, the last healthy one
// (rollout_rollback.go), except during an in-place restore, whose
// template is rendered around the held revision.
func (r *Reconciler) renderStatefulSet(p *pass, replicas int32) *appsv1.StatefulSet {
	c := p.cluster
	sts := render.StatefulSet(c, r.Render, replicas, p.revision.Apply, p.restore)
	if t := p.revision.HeldTemplate; t != nil && (p.restore == nil || p.restore.InPlaceID == "") {
		sts.Spec.Template = *t.DeepCopy()
	}
	if p.claimTemplates != nil {
		sts.Spec.VolumeClaimTemplates = p.claimTemplates
	}
	if p.ca != nil && p.ca.trust != "" {
		// The CA Secret's digest, on whatever template is kept: new trust
		// reaches members only by a restart (carotation_plan.go).
		if sts.Spec.Template.Annotations == nil {
			sts.Spec.Template.Annotations = map[string]string{}
		}
		sts.Spec.Template.Annotations[AnnotationCATrust] = p.ca.trust
	}
	return sts
}

// replaceStatefulSet deletes the StatefulSet, orphaning its pods and
// claims; a later pass applies the new one.
func (r *Reconciler) replaceStatefulSet(ctx context.Context, p *pass, current *appsv1.StatefulSet) error {
	c := p.cluster
	err := r.Delete(ctx, current, client.PropagationPolicy(metav1.DeletePropagationOrphan),
		client.Preconditions{UID: ptr.To(current.UID)}) // never a StatefulSet made since; deleting one being deleted is no error
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("replacing statefulset %s for its new claim template: %w", current.Name, err)
	}
	log.FromContext(ctx).Info("replacing the statefulset for its new claim template; its pods are kept", "statefulset", current.Name)
	r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "StatefulSetReplaced", "ReplaceStatefulSet",
		"replacing StatefulSet %s for its new volume claim template (storage.size %s); its pods keep running and are adopted by the new one", current.Name, ptr.To(c.StorageSize()).String())
	p.stsReplacing, p.sts = true, current
	p.stsReplicas = ptr.Deref(current.Spec.Replicas, p.stsReplicas)
	return nil
}

// replaceWaits says why the StatefulSet may not be replaced now, or "".
// Pure.
func replaceWaits(p *pass, current *appsv1.StatefulSet) string {
	c := p.cluster
	replicas := ptr.Deref(current.Spec.Replicas, 0)
	switch {
	case p.inPlace != nil || (c.Status.Restore != nil && !c.Status.Restore.Done && !c.Status.Restore.RolledBack):
		return "an in-place restore is under way"
	case p.revision.Held:
		// A recreated StatefulSet is rendered from the spec: keep the
		// live one while it holds the running revision.
		return "a change to the image or etcd options waits for its preflight check"
	case replicas != c.DesiredReplicas():
		return fmt.Sprintf("a membership change is under way (%d members, %d desired)", replicas, c.DesiredReplicas())
	case current.Status.ObservedGeneration < current.Generation:
		return "the statefulset controller has not caught up yet"
	}
	voters := 0
	for _, m := range c.Status.Members {
		if m.Role == etcdv1.RoleLearner {
			return "a learner is being added"
		}
		voters++
	}
	if voters != int(replicas) {
		return fmt.Sprintf("a membership change is under way (%d members in etcd, %d pods)", voters, replicas)
	}
	return ""
}

// claimTemplatesDiffer compares what the operator renders in the claim
// templates: names, storage class and requested size (as quantities).
func claimTemplatesDiffer(live, want *appsv1.StatefulSet) bool {
	a, b := live.Spec.VolumeClaimTemplates, want.Spec.VolumeClaimTemplates
	if len(a) != len(b) {
		return true
	}
	for i := range a {
		qa, qb := a[i].Spec.Resources.Requests[corev1.ResourceStorage], b[i].Spec.Resources.Requests[corev1.ResourceStorage]
		if a[i].Name != b[i].Name || qa.Cmp(qb) != 0 ||
			(b[i].Spec.StorageClassName != nil && ptr.Deref(a[i].Spec.StorageClassName, "") != *b[i].Spec.StorageClassName) {
			return true
		}
	}
	return false
}

// orphanedMembers is one more than the highest ordinal among the
// cluster's member pods that no StatefulSet controls; 0 when none.
func (r *Reconciler) orphanedMembers(ctx context.Context, c *etcdv1.EtcdCluster) (int32, error) {
	pods, err := podutil.ListMembers(ctx, r.Client, c)
	if err != nil {
		return 0, err
	}
	n := int32(0)
	for i := range pods {
		if metav1.GetControllerOf(&pods[i]) != nil || !pods[i].DeletionTimestamp.IsZero() {
			continue
		}
		if o, ok := c.MemberOrdinal(pods[i].Name); ok && int32(o)+1 > n {
			n = int32(o) + 1
		}
	}
	return n, nil
}
