package etcdcluster

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/podutil"
	"quorum.dev/etcd-operator/controllers/render"
)

// A change to the members' image or etcd options reaches nothing a member
// reads until its preflight check passed: the StatefulSet's pod template
// and the options ConfigMap it names stay those of the running revision,
// so a member pod that restarts for any other reason (node loss, eviction,
// deletion) comes back as it ran. Options live in one ConfigMap per
// revision (<name>-options-<hash>, written once), created only when their
// revision is written to the template, and deleted once no pod and no
// template names them.

// revisionPlan is what the members step decided about the revision the
// members run, for the rollout and status steps.
type revisionPlan struct {
	Desired render.Revision // of the spec
	Apply   render.Revision // written to the StatefulSet's template
	// Held: Desired is not written: its check has not passed (running,
	// not started, or refused; see Preflight).
	Held bool
	// HeldTemplate is the live pod template, kept whole while Held (nil
	// when there is no StatefulSet: Apply is rendered into the spec's),
	// or the last healthy one while a stuck rollout is rolled back
	// (keepRolledBack).
	HeldTemplate *corev1.PodTemplateSpec
	// Proven: a ready member pod runs Desired's image and options.
	Proven    bool
	Preflight preflightResult // of Desired, when it was read
	Why       string
}

// revisionInput is what planRevision decides from.
type revisionInput struct {
	Desired render.Revision
	// Live is the revision of the StatefulSet's template, or, with no
	// StatefulSet, of the member pods; nil when neither exists.
	Live      *render.Revision
	Proven    bool
	Preflight preflightState // of Desired
}

// planRevision chooses the revision to write into the StatefulSet's
// template, and whether Desired is held back. Pure. In order:
//
//  1. nothing runs yet (a new cluster): Desired;
//  2. Live runs Desired's image and options: Desired, kept in Live's
//     ConfigMap (a cluster made by an earlier operator version keeps its
//     members untouched; a reverted spec is back to Live: nothing to do);
//  3. a ready member pod runs Desired's image and options (a revert
//     during a rollout): Desired, no check needed;
//  4. Desired passed its preflight check: Desired;
//  5. otherwise Live, and Desired is held until its check passes.
func planRevision(in revisionInput) (render.Revision, bool, string) {
	d := in.Desired
	switch {
	case in.Live == nil:
		return d, false, "no member runs yet"
	case in.Live.Same(d):
		d.OptionsConfigMap = in.Live.OptionsConfigMap
		return d, false, "the members' template runs the spec's image and options"
	case in.Proven:
		return d, false, "a ready member runs the spec's image and options"
	case in.Preflight == preflightPassed:
		return d, false, "the spec's image and options passed their preflight check"
	case in.Preflight == preflightRefused:
		return *in.Live, true, "the spec's image and options failed their preflight check"
	}
	return *in.Live, true, "the spec's image and options wait for their preflight check"
}

// chooseRevision fills p.revision from the live StatefulSet (nil when
// there is none) and the member pods.
func (r *Reconciler) chooseRevision(ctx context.Context, p *pass, current *appsv1.StatefulSet, pods []corev1.Pod) error {
	c := p.cluster
	in := revisionInput{Desired: render.DesiredRevision(c, r.Render, configHash(p))}
	if current != nil {
		if live, ok := render.RevisionOf(current.Spec.Template.ObjectMeta, current.Spec.Template.Spec); ok {
			in.Live = &live
		}
	}
	for i := range pods {
		pod := &pods[i]
		rev, ok := render.RevisionOf(pod.ObjectMeta, pod.Spec)
		if !ok {
			continue
		}
		ready := podutil.Ready(pod) && pod.DeletionTimestamp.IsZero()
		if ready && rev.Same(in.Desired) {
			in.Proven = true
		}
		if current == nil && (in.Live == nil || ready) {
			in.Live = &rev
		}
	}
	plan := revisionPlan{Desired: in.Desired, Proven: in.Proven}
	if in.Live != nil && !in.Live.Same(in.Desired) && !in.Proven {
		pre, err := r.preflightResult(ctx, c, in.Desired.Key())
		if err != nil {
			return err
		}
		plan.Preflight, in.Preflight = pre, pre.State
	}
	plan.Apply, plan.Held, plan.Why = planRevision(in)
	if plan.Held && current != nil {
		plan.HeldTemplate = current.Spec.Template.DeepCopy()
	}
	if plan.Held || (in.Live != nil && !in.Live.Same(plan.Apply)) {
		log.FromContext(ctx).V(1).Info("revision decision", "desired", in.Desired.Key(), "desiredImage", in.Desired.Image,
			"desiredConfigHash", in.Desired.ConfigHash, "live", in.Live, "proven", in.Proven, "preflight", in.Preflight,
			"apply", plan.Apply, "held", plan.Held, "why", plan.Why)
	}
	p.revision = plan
	return nil
}

// applyOptions creates the options ConfigMap of the revision about to be
// written to the template, when it is the spec's own.
func (r *Reconciler) applyOptions(ctx context.Context, p *pass) error {
	c, rev := p.cluster, p.revision.Apply
	if !rev.Same(p.revision.Desired) || rev.OptionsConfigMap != c.OptionsConfigMapName(rev.ConfigHash) {
		return nil
	}
	return r.apply(ctx, c, render.OptionsConfigMap(c, rev.ConfigHash))
}

// collectOptions deletes the options ConfigMaps that neither the template
// just applied, nor the StatefulSet, nor any member pod names. Candidates
// found in the cache are checked against a fresh list from the API server
// first: a pod created a moment ago from an older template must find its
// options.
func (r *Reconciler) collectOptions(ctx context.Context, p *pass) error {
	c := p.cluster
	list := &corev1.ConfigMapList{}
	if err := r.List(ctx, list, client.InNamespace(c.Namespace), client.MatchingLabels{
		etcdv1.LabelInstance: c.Name, etcdv1.LabelManagedBy: etcdv1.ManagedByValue, etcdv1.LabelComponent: render.ComponentOptions,
	}); err != nil {
		return fmt.Errorf("listing options configmaps: %w", err)
	}
	var candidates []*corev1.ConfigMap
	for i := range list.Items {
		cm := &list.Items[i]
		if cm.DeletionTimestamp.IsZero() && metav1.IsControlledBy(cm, c) && cm.Name != p.revision.Apply.OptionsConfigMap {
			candidates = append(candidates, cm)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	inUse, err := r.optionsInUse(ctx, c, r.APIReader)
	if err != nil {
		return err
	}
	for _, cm := range candidates {
		if inUse[cm.Name] {
			continue
		}
		if err := r.Delete(ctx, cm, client.Preconditions{UID: &cm.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting options configmap %s: %w", cm.Name, err)
		}
		log.FromContext(ctx).V(1).Info("deleted options no member runs", "configmap", cm.Name)
	}
	return nil
}

// optionsInUse names the ConfigMaps the StatefulSet's template and the
// member pods mount their options from, read through reader.
func (r *Reconciler) optionsInUse(ctx context.Context, c *etcdv1.EtcdCluster, reader client.Reader) (map[string]bool, error) {
	if reader == nil {
		reader = r.Client
	}
	inUse := map[string]bool{}
	sts := &appsv1.StatefulSet{}
	switch err := reader.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.StatefulSetName()}, sts); {
	case err == nil:
		if rev, ok := render.RevisionOf(sts.Spec.Template.ObjectMeta, sts.Spec.Template.Spec); ok {
			inUse[rev.OptionsConfigMap] = true
		}
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading statefulset: %w", err)
	}
	pods, err := podutil.ListMembers(ctx, reader, c)
	if err != nil {
		return nil, err
	}
	for i := range pods {
		if rev, ok := render.RevisionOf(pods[i].ObjectMeta, pods[i].Spec); ok {
			inUse[rev.OptionsConfigMap] = true
		}
	}
	return inUse, nil
}

// legacyOptions is the options file the cluster ConfigMap holds while a
// member pod or the template made by an earlier operator version still
// mounts it from there (read from the cache), else "".
func (r *Reconciler) legacyOptions(ctx context.Context, c *etcdv1.EtcdCluster) (string, error) {
	cm := &corev1.ConfigMap{}
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.ConfigMapName()}, cm)
	if apierrors.IsNotFound(err) || (err == nil && cm.Data[render.ConfigKeyOptions] == "") {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading configmap: %w", err)
	}
	inUse, err := r.optionsInUse(ctx, c, r.Client)
	if err == nil && !inUse[c.ConfigMapName()] {
		// About to drop the key: make sure from the API server.
		inUse, err = r.optionsInUse(ctx, c, r.APIReader)
	}
	if err != nil || !inUse[c.ConfigMapName()] {
		return "", err
	}
	return cm.Data[render.ConfigKeyOptions], nil
}
