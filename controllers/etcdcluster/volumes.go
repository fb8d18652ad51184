package etcdcluster

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=patch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get;list;watch

// claimClass is what planVolumes needs to know of a StorageClass.
type claimClass struct {
	Found          bool
	AllowExpansion bool // allowVolumeExpansion is true
}

// volumePlan is the volumes step's decision.
type volumePlan struct {
	// Grow: member claims whose request is to be raised to the wanted size.
	Grow []string
	// Capacity is the smallest status.capacity among the member claims;
	// nil when no claim reports one yet.
	Capacity *resource.Quantity
	// Unbound: member claims not bound to a volume yet (phase Pending, or
	// no status.capacity): nothing to expand yet; the API server lets only
	// a bound claim's request change. Once bound they are planned as the
	// others.
	Unbound []string
	// Grown: every bound member claim has at least the wanted capacity.
	Grown bool
	// Reason (a ReasonVolume* constant) and Message for the VolumesGrown
	// condition.
	Reason, Message string
}

// problem reports whether the plan is a refusal the user must act on.
func (v volumePlan) problem() bool {
	return v.Reason == etcdv1.ReasonVolumeExpansionUnsupported || v.Reason == etcdv1.ReasonVolumeExpansionInfeasible
}

// planVolumes decides how the member claims follow the wanted size (the
// spec's storage.size). Pure. A claim's request is raised only when its
// StorageClass allows expansion (Kubernetes: "Expanding Persistent Volumes
// Claims"; the API server refuses the change otherwise); every claim is
// raised in the same pass, since an expansion does not take the volume
// away from its running member: a failed one leaves the claim at its old
// size, which etcd keeps using. A claim the resizer marked infeasible
// (allocatedResourceStatuses) is reported with the resizer's message and
// not asked again. A claim not bound yet (a new cluster's, a new member's)
// is neither grown nor counted as expanding: it has no volume to expand;
// it is listed in Unbound. Claims never shrink.
func planVolumes(want resource.Quantity, claims []corev1.PersistentVolumeClaim, classes map[string]claimClass) volumePlan {
	var plan volumePlan
	var infeasible, unsupported, pending []string
	unsupportedClass := ""
	for i := range claims {
		pvc := &claims[i]
		capacity, hasCapacity := pvc.Status.Capacity[corev1.ResourceStorage]
		if !hasCapacity || pvc.Status.Phase == corev1.ClaimPending {
			plan.Unbound = append(plan.Unbound, pvc.Name)
			continue
		}
		if hasCapacity && (plan.Capacity == nil || capacity.Cmp(*plan.Capacity) < 0) {
			plan.Capacity = ptr.To(capacity.DeepCopy())
		}
		request := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		if msg, ok := resizeInfeasible(pvc); ok {
			infeasible = append(infeasible, fmt.Sprintf("%s: %s", pvc.Name, msg))
			continue
		}
		if request.Cmp(want) < 0 {
			class := ptr.Deref(pvc.Spec.StorageClassName, "")
			if c := classes[class]; class == "" || !c.Found || !c.AllowExpansion {
				unsupported = append(unsupported, pvc.Name)
				unsupportedClass = class
				continue
			}
			plan.Grow = append(plan.Grow, pvc.Name)
			pending = append(pending, fmt.Sprintf("%s (has %s, asked %s)", pvc.Name, capacity.String(), want.String()))
			continue
		}
		if capacity.Cmp(want) < 0 {
			pending = append(pending, fmt.Sprintf("%s (has %s, asked %s)", pvc.Name, capacity.String(), request.String()))
		}
	}
	have := "their current size"
	if plan.Capacity != nil {
		have = plan.Capacity.String()
	}
	after := fmt.Sprintf("members keep running on their current claims and nothing is restarted; a derived quota stays at the one for %s", have)
	switch {
	case len(infeasible) > 0:
		plan.Reason = etcdv1.ReasonVolumeExpansionInfeasible
		plan.Message = fmt.Sprintf("the resizer cannot grow member claims to %s: %s; %s. The operator does not ask again: fix the cause, then clear the claim's resize error as the StorageClass's driver documents",
			want.String(), strings.Join(infeasible, "; "), after)
	case len(unsupported) > 0:
		why := fmt.Sprintf("StorageClass %s does not allow volume expansion (allowVolumeExpansion is not true)", unsupportedClass)
		next := fmt.Sprintf("if its provisioner can grow volumes, set allowVolumeExpansion: true on StorageClass %s and the claims will grow", unsupportedClass)
		if unsupportedClass == "" {
			why, next = "the member claims have no StorageClass", "claims without a StorageClass cannot be grown by the operator"
		} else if !classes[unsupportedClass].Found {
			why = fmt.Sprintf("StorageClass %s does not exist", unsupportedClass)
		}
		plan.Reason = etcdv1.ReasonVolumeExpansionUnsupported
		plan.Message = fmt.Sprintf("%s: claims %s stay at %s, storage.size asks for %s; %s; %s",
			why, strings.Join(unsupported, ", "), have, want.String(), after, next)
	case len(pending) > 0:
		plan.Reason = etcdv1.ReasonVolumeExpanding
		plan.Message = fmt.Sprintf("growing member claims to %s without restarting members: %s; a derived quota follows once every claim has grown",
			want.String(), strings.Join(pending, ", "))
	default:
		plan.Grown = true
		plan.Reason = etcdv1.ReasonVolumesAtSize
		plan.Message = fmt.Sprintf("every member claim has at least %s", want.String())
		if len(plan.Unbound) > 0 {
			plan.Message = fmt.Sprintf("every bound member claim has at least %s; %s not bound to a volume yet",
				want.String(), strings.Join(plan.Unbound, ", "))
		}
	}
	return plan
}

// resizeInfeasible reports a claim whose expansion the resizer gave up on,
// with the resizer's message (ControllerResizeError or NodeResizeError).
func resizeInfeasible(pvc *corev1.PersistentVolumeClaim) (string, bool) {
	switch pvc.Status.AllocatedResourceStatuses[corev1.ResourceStorage] {
	case corev1.PersistentVolumeClaimControllerResizeInfeasible, corev1.PersistentVolumeClaimNodeResizeInfeasible:
	default:
		return "", false
	}
	for _, c := range pvc.Status.Conditions {
		if (c.Type == corev1.PersistentVolumeClaimControllerResizeError || c.Type == corev1.PersistentVolumeClaimNodeResizeError) &&
			c.Status == corev1.ConditionTrue && c.Message != "" {
			return c.Message, true
		}
	}
	return string(pvc.Status.AllocatedResourceStatuses[corev1.ResourceStorage]), true
}

// growVolumes is the volumes step: it reads the member claims (of the
// ordinals the live StatefulSet runs) and their StorageClasses, raises the
// requests planVolumes chooses, and records in status.storage.capacity the
// size every member claim really has, which a derived quota follows (see
// EtcdCluster.QuotaVolume). It runs before the config step, so that the
// quota rendered this pass is the one the disks allow. A refusal is told
// once as a Warning event and kept in the VolumesGrown condition.
func (r *Reconciler) growVolumes(ctx context.Context, p *pass) error {
	c := p.cluster
	if m := c.Spec.Storage.Medium; m != "" && m != etcdv1.StoragePersistentVolume {
		return nil
	}
	sts := &appsv1.StatefulSet{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.StatefulSetName()}, sts); apierrors.IsNotFound(err) {
		return nil // a new StatefulSet makes its claims at the spec's size
	} else if err != nil {
		return fmt.Errorf("reading statefulset: %w", err)
	}
	var claims []corev1.PersistentVolumeClaim
	classes := map[string]claimClass{}
	for i := 0; i < int(ptr.Deref(sts.Spec.Replicas, 0)); i++ {
		pvc := &corev1.PersistentVolumeClaim{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.MemberClaimName(i)}, pvc); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return fmt.Errorf("reading volume claim %s: %w", c.MemberClaimName(i), err)
		}
		if !pvc.DeletionTimestamp.IsZero() {
			continue
		}
		claims = append(claims, *pvc)
		name := ptr.Deref(pvc.Spec.StorageClassName, "")
		if _, seen := classes[name]; seen || name == "" {
			continue
		}
		sc := &storagev1.StorageClass{}
		switch err := r.Get(ctx, client.ObjectKey{Name: name}, sc); {
		case apierrors.IsNotFound(err):
			classes[name] = claimClass{}
		case err != nil:
			return fmt.Errorf("reading StorageClass %s: %w", name, err)
		default:
			classes[name] = claimClass{Found: true, AllowExpansion: ptr.Deref(sc.AllowVolumeExpansion, false)}
		}
	}
	if len(claims) == 0 {
		return nil
	}
	want := c.StorageSize()
	plan := planVolumes(want, claims, classes)
	log.FromContext(ctx).V(1).Info("volumes decision", "want", want.String(), "claims", len(claims), "capacity", plan.Capacity,
		"grow", plan.Grow, "unbound", plan.Unbound, "reason", plan.Reason)
	if len(plan.Unbound) == len(claims) {
		return nil // no claim is bound yet (a new cluster): nothing to say
	}
	if plan.Capacity != nil {
		c.Status.Storage = &etcdv1.StorageStatus{Capacity: plan.Capacity}
	}
	p.volumes = &plan
	for _, name := range plan.Grow {
		pvc := &corev1.PersistentVolumeClaim{}
		pvc.Namespace, pvc.Name = c.Namespace, name
		patch := fmt.Sprintf(`{"spec":{"resources":{"requests":{"storage":%q}}}}`, want.String())
		if err := r.Patch(ctx, pvc, client.RawPatch(client.Merge.Type(), []byte(patch))); err != nil {
			return fmt.Errorf("growing volume claim %s to %s: %w", name, want.String(), err)
		}
		log.FromContext(ctx).Info("volume claim grown", "claim", name, "size", want.String())
	}
	if len(plan.Grow) > 0 {
		sort.Strings(plan.Grow)
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, etcdv1.ReasonVolumeExpanding, "GrowVolumes",
			"asked claims %s to grow to %s; members are not restarted", strings.Join(plan.Grow, ", "), want.String())
	}
	if was := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionVolumesGrown); plan.problem() &&
		(was == nil || was.Reason != plan.Reason || was.Message != plan.Message) {
		r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, plan.Reason, "GrowVolumes", "%s", plan.Message)
	}
	return nil
}
