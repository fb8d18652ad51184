package main

// Volume expansion, following the flow of the CSI external-resizer with
// RecoverVolumeExpansionFailure (GA in Kubernetes 1.34):
//
//  1. The PersistentVolumeClaimResize admission plugin lets a user raise
//     spec.resources.requests.storage of a bound claim only when the claim's
//     StorageClass has allowVolumeExpansion: true. The controller-manager's
//     expand controller finds no in-tree plugin that can grow a hostPath
//     volume and leaves the claim to an external controller: us.
//  2. For a claim whose request exceeds status.capacity, bound to a volume
//     this provisioner made, we mark the claim: condition Resizing,
//     status.allocatedResources[storage] = the new size and
//     status.allocatedResourceStatuses[storage] = ControllerResizeInProgress;
//     event Resizing.
//  3. We grow the volume, then raise the PersistentVolume's spec.capacity.
//  4. We complete the claim: status.capacity = the new size, the resize
//     conditions removed, the storage entry of allocatedResourceStatuses
//     removed (allocatedResources keeps the size); event
//     VolumeResizeSuccessful. No file system resize on the node is needed, so
//     the claim never goes through NodeResizePending.
//
// A transient failure (an API error) leaves the claim ControllerResizeInProgress
// and is retried; a terminal one (the volume directory is gone or is not ours)
// marks it ControllerResizeInfeasible with a ControllerResizeError condition
// and a VolumeResizeFailed event, and is retried only when the request changes
// (the user may lower it again, down to status.capacity).
//
// The volumes are plain directories with no quota: growing one is
// bookkeeping. The directory is checked to exist and to be ours; the sizes
// live in the PersistentVolume and the claim.

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// Event reasons, as the external-resizer records them on the claim.
const (
	reasonResizing      = "Resizing"
	reasonResizeSuccess = "VolumeResizeSuccessful"
	reasonResizeFailed  = "VolumeResizeFailed"
)

// resizeConditions are the claim conditions owned by the resize flow; the
// others are left alone.
var resizeConditions = map[corev1.PersistentVolumeClaimConditionType]bool{
	corev1.PersistentVolumeClaimResizing:                true,
	corev1.PersistentVolumeClaimFileSystemResizePending: true,
	corev1.PersistentVolumeClaimControllerResizeError:   true,
	corev1.PersistentVolumeClaimNodeResizeError:         true,
}

// resizeTarget decides whether claim pvc, bound to pv, of class sc (nil when
// unknown), needs this provisioner (named name) to grow its volume, and to
// what size. why says why not, for the log; empty when there is simply
// nothing to do.
func resizeTarget(name string, pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume, sc *storagev1.StorageClass) (size resource.Quantity, ok bool, why string) {
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" || pvc.DeletionTimestamp != nil {
		return size, false, ""
	}
	request, hasRequest := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	capacity, hasCapacity := pvc.Status.Capacity[corev1.ResourceStorage]
	if !hasRequest || !hasCapacity || request.Cmp(capacity) <= 0 {
		return size, false, ""
	}
	if pv == nil || pv.Name != pvc.Spec.VolumeName || pv.Annotations[annProvisionedBy] != name || pv.Spec.HostPath == nil {
		return size, false, "" // not a volume of ours: another resizer's business
	}
	if ref := pv.Spec.ClaimRef; ref == nil || ref.UID != pvc.UID || ref.Namespace != pvc.Namespace {
		return size, false, "volume is not bound to this claim"
	}
	if sc == nil {
		return size, false, "its StorageClass is gone"
	}
	if sc.AllowVolumeExpansion == nil || !*sc.AllowVolumeExpansion {
		return size, false, fmt.Sprintf("StorageClass %s does not allow volume expansion", sc.Name)
	}
	size = request
	allocated, hasAllocated := pvc.Status.AllocatedResources[corev1.ResourceStorage]
	switch pvc.Status.AllocatedResourceStatuses[corev1.ResourceStorage] {
	case corev1.PersistentVolumeClaimControllerResizeInProgress:
		// An earlier expansion did not finish: finish it first. Once the
		// claim records it, a larger request starts the next round.
		if hasAllocated && allocated.Cmp(capacity) > 0 {
			size = allocated
		}
	case corev1.PersistentVolumeClaimControllerResizeInfeasible:
		// Failed for good at this size; a new request tries again.
		if hasAllocated && allocated.Cmp(request) == 0 {
			return size, false, fmt.Sprintf("expansion to %s failed for good; change the request to try again", request.String())
		}
	case corev1.PersistentVolumeClaimNodeResizePending, corev1.PersistentVolumeClaimNodeResizeInProgress,
		corev1.PersistentVolumeClaimNodeResizeInfeasible:
		return size, false, "a node expansion is pending, which this provisioner never asks for"
	}
	return size, true, ""
}

// mergeResizeCondition returns conds with every resize condition replaced by
// c (none when c is nil), keeping the others and the transition time of an
// unchanged condition.
func mergeResizeCondition(conds []corev1.PersistentVolumeClaimCondition, c *corev1.PersistentVolumeClaimCondition) []corev1.PersistentVolumeClaimCondition {
	var out []corev1.PersistentVolumeClaimCondition
	added := false
	for _, old := range conds {
		switch {
		case !resizeConditions[old.Type]:
			out = append(out, old)
		case c != nil && old.Type == c.Type && old.Status == c.Status && old.Message == c.Message:
			out = append(out, old)
			added = true
		}
	}
	if c != nil && !added {
		out = append(out, *c)
	}
	return out
}

func setStorageStatus(pvc *corev1.PersistentVolumeClaim, s corev1.ClaimResourceStatus) {
	if pvc.Status.AllocatedResourceStatuses == nil {
		pvc.Status.AllocatedResourceStatuses = map[corev1.ResourceName]corev1.ClaimResourceStatus{}
	}
	pvc.Status.AllocatedResourceStatuses[corev1.ResourceStorage] = s
}

// markResizing is the claim's status while its volume grows to size.
func markResizing(pvc *corev1.PersistentVolumeClaim, size resource.Quantity, now metav1.Time) *corev1.PersistentVolumeClaim {
	n := pvc.DeepCopy()
	n.Status.Conditions = mergeResizeCondition(n.Status.Conditions, &corev1.PersistentVolumeClaimCondition{
		Type: corev1.PersistentVolumeClaimResizing, Status: corev1.ConditionTrue, LastTransitionTime: now,
	})
	setStorageStatus(n, corev1.PersistentVolumeClaimControllerResizeInProgress)
	if n.Status.AllocatedResources == nil {
		n.Status.AllocatedResources = corev1.ResourceList{}
	}
	n.Status.AllocatedResources[corev1.ResourceStorage] = size
	return n
}

// markResized is the claim's status once its volume has grown to size.
func markResized(pvc *corev1.PersistentVolumeClaim, size resource.Quantity) *corev1.PersistentVolumeClaim {
	n := pvc.DeepCopy()
	if n.Status.Capacity == nil {
		n.Status.Capacity = corev1.ResourceList{}
	}
	n.Status.Capacity[corev1.ResourceStorage] = size
	n.Status.Conditions = mergeResizeCondition(n.Status.Conditions, nil)
	delete(n.Status.AllocatedResourceStatuses, corev1.ResourceStorage)
	if len(n.Status.AllocatedResourceStatuses) == 0 {
		n.Status.AllocatedResourceStatuses = nil
	}
	return n
}

// markInfeasible is the claim's status after a terminal failure.
func markInfeasible(pvc *corev1.PersistentVolumeClaim, err error, now metav1.Time) *corev1.PersistentVolumeClaim {
	n := pvc.DeepCopy()
	n.Status.Conditions = mergeResizeCondition(n.Status.Conditions, &corev1.PersistentVolumeClaimCondition{
		Type: corev1.PersistentVolumeClaimControllerResizeError, Status: corev1.ConditionTrue, LastTransitionTime: now,
		Message: "failed to expand the volume: " + err.Error(),
	})
	setStorageStatus(n, corev1.PersistentVolumeClaimControllerResizeInfeasible)
	return n
}

// statusPatch is the strategic merge patch from old to new, carrying old's
// resourceVersion so that it fails with a conflict on a stale claim. Empty
// when the status does not change.
func statusPatch(old, new *corev1.PersistentVolumeClaim) ([]byte, error) {
	o, n := old.DeepCopy(), new.DeepCopy()
	o.ResourceVersion, n.ResourceVersion = "", old.ResourceVersion
	oj, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	nj, err := json.Marshal(n)
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oj, nj, corev1.PersistentVolumeClaim{})
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(patch, &m); err != nil {
		return nil, err
	}
	if _, ok := m["status"]; !ok {
		return nil, nil
	}
	return patch, nil
}

// terminalError is a failure that retrying at the same size cannot fix.
type terminalError struct{ error }

// expandVolume grows pv's directory to size. There is no quota to raise, so
// it only checks that the directory is there and is one of ours.
func (p *provisioner) expandVolume(pv *corev1.PersistentVolume, size resource.Quantity) error {
	dir := pv.Spec.HostPath.Path
	if filepath.Dir(dir) != filepath.Clean(p.root) || !strings.HasPrefix(filepath.Base(dir), pv.Name) {
		return terminalError{fmt.Errorf("path %s is not a volume directory of this provisioner", dir)}
	}
	fi, err := os.Stat(dir)
	if os.IsNotExist(err) {
		return terminalError{fmt.Errorf("volume directory %s is missing", dir)}
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return terminalError{fmt.Errorf("%s is not a directory", dir)}
	}
	return nil
}

func (p *provisioner) patchClaimStatus(ctx context.Context, old, new *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	patch, err := statusPatch(old, new)
	if err != nil || patch == nil {
		return old, err
	}
	return p.client.CoreV1().PersistentVolumeClaims(old.Namespace).Patch(ctx, old.Name,
		types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
}

// resize grows the volume of claim cached (from the informer) when it asks
// for more than it has. Decisions are made again on the live objects, so that
// a stale cache never starts a second round.
func (p *provisioner) resize(ctx context.Context, cached *corev1.PersistentVolumeClaim) error {
	var pv *corev1.PersistentVolume
	if o, ok, _ := p.pvs.GetByKey(cached.Spec.VolumeName); ok {
		pv = o.(*corev1.PersistentVolume)
	}
	if _, ok, _ := resizeTarget(p.name, cached, pv, p.classOf(cached)); !ok {
		return nil
	}
	pvc, err := p.client.CoreV1().PersistentVolumeClaims(cached.Namespace).Get(ctx, cached.Name, metav1.GetOptions{})
	if err != nil {
		return ignoreNotFound(err)
	}
	if pv, err = p.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{}); err != nil {
		return ignoreNotFound(err)
	}
	size, ok, why := resizeTarget(p.name, pvc, pv, p.classOf(pvc))
	if !ok {
		if why != "" {
			log.Printf("not resizing %s/%s: %s", pvc.Namespace, pvc.Name, why)
		}
		return nil
	}
	key := pvc.Namespace + "/" + pvc.Name
	if pvc, err = p.patchClaimStatus(ctx, pvc, markResizing(pvc, size, metav1.Now())); err != nil {
		return fmt.Errorf("%s: mark resizing: %w", key, err)
	}
	p.events.Eventf(pvc, corev1.EventTypeNormal, reasonResizing, "External resizer is resizing volume %s to %s", pv.Name, size.String())

	if err := p.expandVolume(pv, size); err != nil {
		p.events.Eventf(pvc, corev1.EventTypeWarning, reasonResizeFailed, "resize volume %s failed: %v", pv.Name, err)
		if _, terminal := err.(terminalError); terminal {
			if _, perr := p.patchClaimStatus(ctx, pvc, markInfeasible(pvc, err, metav1.Now())); perr != nil {
				return fmt.Errorf("%s: %v; and marking it infeasible: %w", key, err, perr)
			}
		}
		return fmt.Errorf("%s: %w", key, err)
	}
	if cur := pv.Spec.Capacity[corev1.ResourceStorage]; cur.Cmp(size) < 0 {
		pv = pv.DeepCopy()
		pv.Spec.Capacity[corev1.ResourceStorage] = size
		if _, err := p.client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
			if !apierrors.IsConflict(err) {
				p.events.Eventf(pvc, corev1.EventTypeWarning, reasonResizeFailed, "update capacity of volume %s failed: %v", pv.Name, err)
			}
			return fmt.Errorf("%s: update capacity of %s: %w", key, pv.Name, err)
		}
	}
	if _, err := p.patchClaimStatus(ctx, pvc, markResized(pvc, size)); err != nil {
		return fmt.Errorf("%s: mark resized: %w", key, err)
	}
	p.events.Event(pvc, corev1.EventTypeNormal, reasonResizeSuccess, "Resize volume succeeded")
	log.Printf("resized %s of %s to %s", pv.Name, key, size.String())
	return nil
}

// classOf is the claim's StorageClass from the cache, nil when it has none or
// it is gone.
func (p *provisioner) classOf(pvc *corev1.PersistentVolumeClaim) *storagev1.StorageClass {
	if pvc.Spec.StorageClassName == nil {
		return nil
	}
	if o, ok, _ := p.classes.GetByKey(*pvc.Spec.StorageClassName); ok {
		return o.(*storagev1.StorageClass)
	}
	return nil
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
