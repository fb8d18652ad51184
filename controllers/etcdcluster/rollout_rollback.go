package etcdcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// A rollout stuck on a change that breaks members at run time (a memory
// limit etcd is OOM-killed under, anything the preflight check cannot
// catch) is rolled back: the StatefulSet gets back the pod template the
// healthy members run, read from its ControllerRevision, so that a member
// pod that restarts for another reason (deletion, eviction, a node reboot)
// comes back healthy instead of broken, and the stuck member, now outdated
// and broken, is replaced with it by the rollout step. status.rollout.stuck
// remembers the change by the digest of the pod template the spec renders,
// so that no later pass (nor a restarted operator) writes it again; once
// the spec renders another template (a revert or a fix), the record is
// cleared and the new template rolls out as usual.

// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get

// templateHash is the digest of a pod template: 16 hex digits of the
// SHA-256 of its JSON encoding (encoding/json sorts map keys, so equal
// templates give equal digests). Pure.
func templateHash(t corev1.PodTemplateSpec) (string, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("encoding the pod template: %w", err)
	}
	return render.Hash(string(raw)), nil
}

// revisionTemplate decodes the pod template a StatefulSet's
// ControllerRevision holds. Its data is the patch the StatefulSet
// controller applies to go back to it (Kubernetes, pkg/controller/
// statefulset, getPatch): {"spec":{"template":{...,"$patch":"replace"}}};
// the "$patch" directive is dropped. Pure. An error when the data holds
// no template or it does not decode.
func revisionTemplate(raw []byte) (*corev1.PodTemplateSpec, error) {
	var data struct {
		Spec struct {
			Template map[string]json.RawMessage `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, fmt.Errorf("decoding controller revision data: %w", err)
	}
	if len(data.Spec.Template) == 0 {
		return nil, fmt.Errorf("controller revision data holds no spec.template")
	}
	delete(data.Spec.Template, "$patch")
	t, err := json.Marshal(data.Spec.Template)
	if err != nil {
		return nil, err
	}
	out := &corev1.PodTemplateSpec{}
	if err := json.Unmarshal(t, out); err != nil {
		return nil, fmt.Errorf("decoding the pod template of a controller revision: %w", err)
	}
	return out, nil
}

// rollbackRevision names the ControllerRevision to roll a stuck rollout
// back to: the revision of the ready member pods with a healthy member
// that do not run update (current, the StatefulSet's currentRevision,
// when one of them runs it; else the one most of them run, lowest ordinal
// first on a tie); with none, current when it is not update (a single
// member, or none answered). "" when there is none. Pure.
func rollbackRevision(pods []podInfo, current, update string) string {
	count := map[string]int{}
	var order []string
	sorted := append([]podInfo(nil), pods...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Ordinal < sorted[j].Ordinal })
	for _, p := range sorted {
		if !p.Ready || !p.Healthy || p.Revision == "" || p.Revision == update {
			continue
		}
		if p.Revision == current {
			return current
		}
		if count[p.Revision] == 0 {
			order = append(order, p.Revision)
		}
		count[p.Revision]++
	}
	best := ""
	for _, rev := range order {
		if count[rev] > count[best] {
			best = rev
		}
	}
	if best == "" && current != update {
		return current
	}
	return best
}

// rolledBackHalt is the halt of a rollout that got stuck and was rolled
// back.
func rolledBackHalt(rec *etcdv1.StuckRollout) *rolloutHalt {
	return &rolloutHalt{Reason: etcdv1.ReasonRolloutStuck, Message: fmt.Sprintf(
		"rollout halted and rolled back: %s. The StatefulSet's pod template is back to the last healthy one (ControllerRevision %s): "+
			"members keep running it, a member pod that restarts comes back with it, and %s is replaced with it. "+
			"Revert the change or fix it to go on: the new spec then rolls out as usual",
		rec.Message, rec.Revision, rec.Pod)}
}

// keepRolledBack is the members step's part of a stuck rollout (after
// chooseRevision): it computes the digest of the pod template the spec
// renders, clears the record of a stuck rollout once the spec renders
// another one, and while it renders the same one, has the StatefulSet
// keep the template of the recorded ControllerRevision. live is the
// StatefulSet read this pass (nil when there is none).
func (r *Reconciler) keepRolledBack(ctx context.Context, p *pass, live *appsv1.StatefulSet) error {
	c := p.cluster
	hash, err := templateHash(render.StatefulSet(c, r.Render, 0, p.revision.Desired, p.restore).Spec.Template)
	if err != nil {
		return err
	}
	p.templateHash = hash
	rec := c.StuckRollout()
	if rec == nil {
		return nil
	}
	logger := log.FromContext(ctx).V(1)
	if rec.TemplateHash != hash {
		logger.Info("rollback decision: the spec renders another pod template; the stuck rollout is over", "stuck", rec.TemplateHash, "spec", hash)
		c.Status.Rollout.Stuck = nil
		if *c.Status.Rollout == (etcdv1.RolloutStatus{}) {
			c.Status.Rollout = nil
		}
		r.announced.Delete(rolledBackKey(c))
		return nil
	}
	p.rolloutHalt = rolledBackHalt(rec)
	if rec.Revision == "" {
		return nil
	}
	cr := &appsv1.ControllerRevision{}
	err = r.reader(true).Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: rec.Revision}, cr)
	if apierrors.IsNotFound(err) {
		// Gone (a StatefulSet replaced and its history collected): keep
		// whatever template is in force rather than write the stuck one.
		logger.Info("rollback decision: the recorded revision is gone; keeping the live template", "revision", rec.Revision)
		if live != nil {
			p.revision.HeldTemplate = live.Spec.Template.DeepCopy()
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading controller revision %s: %w", rec.Revision, err)
	}
	t, err := revisionTemplate(cr.Data.Raw)
	if err != nil {
		return fmt.Errorf("controller revision %s: %w", rec.Revision, err)
	}
	p.revision.HeldTemplate = t
	if live == nil || equality.Semantic.DeepEqual(live.Spec.Template, *t) {
		return nil
	}
	logger.Info("rollback decision: putting the last healthy pod template back into the statefulset", "revision", rec.Revision,
		"stuckPod", rec.Pod, "templateHash", rec.TemplateHash)
	if last, seen := r.announced.Swap(rolledBackKey(c), rec.TemplateHash); !seen || last.(string) != rec.TemplateHash {
		r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, etcdv1.ReasonRolloutRolledBack, "Rollout",
			"%s; the StatefulSet's pod template is back to the last healthy one (ControllerRevision %s) until the change is reverted or fixed",
			rec.Message, rec.Revision)
	}
	return nil
}

// rolledBackSuffix keys, in Reconciler.announced, the template digest of
// the stuck change whose rollback was last announced.
const rolledBackSuffix = "rolledback"

func rolledBackKey(c *etcdv1.EtcdCluster) string {
	return types.NamespacedName{Namespace: c.Namespace, Name: c.Name}.String() + "/" + rolledBackSuffix
}

// recordStuck is the rollout step's part of a stuck rollout: the halt of
// pod name, stuck on the spec's template, recorded in status.rollout.stuck
// with the revision to roll back to, which the next pass's members step
// puts back. Already recorded, the record's halt stands; with no revision
// to roll back to (or the spec's template unknown), the rollout only halts.
func (r *Reconciler) recordStuck(ctx context.Context, p *pass, name string, pod *corev1.Pod, pods []podInfo) {
	c := p.cluster
	if rec := c.StuckRollout(); rec != nil {
		p.rolloutHalt = rolledBackHalt(rec)
		return
	}
	p.rolloutHalt = stuckHalt(c, name, pod)
	rev := rollbackRevision(pods, p.sts.Status.CurrentRevision, p.sts.Status.UpdateRevision)
	if rev == "" || p.templateHash == "" {
		log.FromContext(ctx).V(1).Info("rollback decision: no healthy revision to roll back to; the rollout only halts", "stuckPod", name)
		return
	}
	rec := &etcdv1.StuckRollout{TemplateHash: p.templateHash, Pod: name, Revision: rev, Since: metav1.NewTime(r.now()),
		Message: fmt.Sprintf("%s, restarted with the new spec, did not become and stay ready within %ds: %s", name, c.ProgressDeadline(), stuckCause(pod))}
	c.Status.Rollout = &etcdv1.RolloutStatus{Stuck: rec}
	p.rolloutHalt = rolledBackHalt(rec)
	log.FromContext(ctx).V(1).Info("rollback decision: the rollout is stuck; rolling back", "stuckPod", name, "revision", rev, "templateHash", p.templateHash)
}
