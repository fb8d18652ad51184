package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

const testName = "quorum.dev/local-hostpath"

func q(s string) resource.Quantity { return resource.MustParse(s) }

func class(name string, expand *bool) *storagev1.StorageClass {
	return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: testName, AllowVolumeExpansion: expand}
}

func ptr[T any](v T) *T { return &v }

// bound is a claim of class sc asking for request, bound to volume pvc-uid1
// with capacity capacity, and that volume, made by us under root.
func bound(root, sc, request, capacity string) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns", UID: "uid1", ResourceVersion: "7"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &sc,
			VolumeName:       "pvc-uid1",
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q(request)}},
		},
		Status: corev1.PersistentVolumeClaimStatus{
			Phase:    corev1.ClaimBound,
			Capacity: corev1.ResourceList{corev1.ResourceStorage: q(capacity)},
			Conditions: []corev1.PersistentVolumeClaimCondition{
				{Type: "SomeoneElses", Status: corev1.ConditionTrue},
			},
		},
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pvc-uid1", Annotations: map[string]string{annProvisionedBy: testName}, ResourceVersion: "3"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:         corev1.ResourceList{corev1.ResourceStorage: q(capacity)},
			StorageClassName: sc,
			ClaimRef:         &corev1.ObjectReference{Namespace: "ns", Name: "data", UID: "uid1"},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(root, "pvc-uid1_ns_data")},
			},
		},
	}
	return pvc, pv
}

func TestResizeTarget(t *testing.T) {
	expandable, fixed := class("standard", ptr(true)), class("quorum-local-fixed", ptr(false))
	for _, tc := range []struct {
		name   string
		change func(*corev1.PersistentVolumeClaim, *corev1.PersistentVolume)
		sc     *storagev1.StorageClass
		want   string // size, or "" for no work
		why    string // part of the reason, when not ok
	}{
		{name: "request above capacity", sc: expandable, want: "2Gi"},
		{name: "request equal to capacity", sc: expandable, change: func(c *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = q("1Gi")
		}},
		{name: "same size in other units", sc: expandable, change: func(c *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = q("1024Mi")
		}},
		{name: "claim not bound", sc: expandable, change: func(c *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
			c.Status.Phase = corev1.ClaimPending
		}},
		{name: "claim being deleted", sc: expandable, change: func(c *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
			c.DeletionTimestamp = &metav1.Time{Time: time.Now()}
		}},
		{name: "class does not allow expansion", sc: fixed, why: "does not allow volume expansion"},
		{name: "class says nothing", sc: class("standard", nil), why: "does not allow volume expansion"},
		{name: "class gone", sc: nil, why: "StorageClass is gone"},
		{name: "volume of another provisioner", sc: expandable, change: func(_ *corev1.PersistentVolumeClaim, v *corev1.PersistentVolume) {
			v.Annotations[annProvisionedBy] = "other.example/csi"
		}},
		{name: "pre-created volume", sc: expandable, change: func(_ *corev1.PersistentVolumeClaim, v *corev1.PersistentVolume) {
			v.Annotations = nil
		}},
		{name: "volume bound to another claim", sc: expandable, why: "not bound to this claim",
			change: func(_ *corev1.PersistentVolumeClaim, v *corev1.PersistentVolume) { v.Spec.ClaimRef.UID = "uid2" }},
		{name: "unfinished expansion finishes first", sc: expandable, want: "3Gi",
			change: func(c *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
				c.Spec.Resources.Requests[corev1.ResourceStorage] = q("5Gi")
				c.Status.AllocatedResources = corev1.ResourceList{corev1.ResourceStorage: q("3Gi")}
				setStorageStatus(c, corev1.PersistentVolumeClaimControllerResizeInProgress)
			}},
		{name: "infeasible at the same request", sc: expandable, why: "failed for good",
			change: func(c *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
				c.Status.AllocatedResources = corev1.ResourceList{corev1.ResourceStorage: q("2Gi")}
				setStorageStatus(c, corev1.PersistentVolumeClaimControllerResizeInfeasible)
			}},
		{name: "infeasible, then a new request", sc: expandable, want: "2Gi",
			change: func(c *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
				c.Status.AllocatedResources = corev1.ResourceList{corev1.ResourceStorage: q("4Gi")}
				setStorageStatus(c, corev1.PersistentVolumeClaimControllerResizeInfeasible)
			}},
		{name: "node expansion pending", sc: expandable, why: "node expansion",
			change: func(c *corev1.PersistentVolumeClaim, _ *corev1.PersistentVolume) {
				setStorageStatus(c, corev1.PersistentVolumeClaimNodeResizePending)
			}},
		{name: "volume already grown, claim not completed", sc: expandable, want: "2Gi",
			change: func(_ *corev1.PersistentVolumeClaim, v *corev1.PersistentVolume) {
				v.Spec.Capacity[corev1.ResourceStorage] = q("2Gi")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pvc, pv := bound("/v", "standard", "2Gi", "1Gi")
			if tc.change != nil {
				tc.change(pvc, pv)
			}
			size, ok, why := resizeTarget(testName, pvc, pv, tc.sc)
			if tc.want == "" {
				if ok {
					t.Fatalf("resize to %s, want none", size.String())
				}
				if !strings.Contains(why, tc.why) || (tc.why == "" && why != "") {
					t.Fatalf("reason %q, want %q", why, tc.why)
				}
				return
			}
			if !ok || size.Cmp(q(tc.want)) != 0 {
				t.Fatalf("resizeTarget = %s, %v (%s); want %s", size.String(), ok, why, tc.want)
			}
		})
	}
}

func conditionTypes(c *corev1.PersistentVolumeClaim) []string {
	var out []string
	for _, x := range c.Status.Conditions {
		out = append(out, string(x.Type))
	}
	return out
}

func TestStatusTransitions(t *testing.T) {
	pvc, _ := bound("/v", "standard", "2Gi", "1Gi")
	now := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

	r := markResizing(pvc, q("2Gi"), now)
	if got := strings.Join(conditionTypes(r), ","); got != "SomeoneElses,Resizing" {
		t.Errorf("conditions while resizing: %s", got)
	}
	if s := r.Status.AllocatedResourceStatuses[corev1.ResourceStorage]; s != corev1.PersistentVolumeClaimControllerResizeInProgress {
		t.Errorf("allocatedResourceStatuses: %v", s)
	}
	if a := r.Status.AllocatedResources[corev1.ResourceStorage]; a.Cmp(q("2Gi")) != 0 {
		t.Errorf("allocatedResources: %s", a.String())
	}
	if c := r.Status.Capacity[corev1.ResourceStorage]; c.Cmp(q("1Gi")) != 0 {
		t.Errorf("capacity changed while resizing: %s", c.String())
	}
	if len(pvc.Status.Conditions) != 1 || pvc.Status.AllocatedResources != nil {
		t.Error("markResizing changed its argument")
	}
	// Marking again keeps the condition's transition time.
	again := markResizing(r, q("2Gi"), metav1.NewTime(now.Add(time.Minute)))
	if !again.Status.Conditions[1].LastTransitionTime.Equal(&now) {
		t.Error("transition time of an unchanged condition moved")
	}
	if p, err := statusPatch(r, again); err != nil || p != nil {
		t.Errorf("patch for an unchanged status: %s, %v", p, err)
	}

	done := markResized(r, q("2Gi"))
	if got := strings.Join(conditionTypes(done), ","); got != "SomeoneElses" {
		t.Errorf("conditions when done: %s", got)
	}
	if done.Status.AllocatedResourceStatuses != nil {
		t.Errorf("allocatedResourceStatuses when done: %v", done.Status.AllocatedResourceStatuses)
	}
	if c := done.Status.Capacity[corev1.ResourceStorage]; c.Cmp(q("2Gi")) != 0 {
		t.Errorf("capacity when done: %s", c.String())
	}
	if a := done.Status.AllocatedResources[corev1.ResourceStorage]; a.Cmp(q("2Gi")) != 0 {
		t.Errorf("allocatedResources when done: %s", a.String())
	}

	// The completion patch deletes the Resizing condition and the status
	// entry, and carries the resourceVersion it was computed from.
	p, err := statusPatch(r, done)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"resourceVersion":"7"`, `"$patch":"delete"`, `"type":"Resizing"`, `"allocatedResourceStatuses":null`, `"capacity":{"storage":"2Gi"}`} {
		if !strings.Contains(string(p), want) {
			t.Errorf("completion patch %s lacks %s", p, want)
		}
	}

	bad := markInfeasible(r, os.ErrNotExist, now)
	if got := strings.Join(conditionTypes(bad), ","); got != "SomeoneElses,ControllerResizeError" {
		t.Errorf("conditions after a terminal failure: %s", got)
	}
	if s := bad.Status.AllocatedResourceStatuses[corev1.ResourceStorage]; s != corev1.PersistentVolumeClaimControllerResizeInfeasible {
		t.Errorf("allocatedResourceStatuses after a terminal failure: %v", s)
	}
}

// testProvisioner serves pvc and pv, of class sc, from a fake API server.
func testProvisioner(t *testing.T, pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume, sc *storagev1.StorageClass, root string) (*provisioner, *fake.Clientset, *record.FakeRecorder) {
	t.Helper()
	c := fake.NewClientset(pvc, pv, sc)
	rec := record.NewFakeRecorder(10)
	p := &provisioner{client: c, name: testName, root: root, node: "node1", events: rec,
		pvcs:    cache.NewIndexer(cache.MetaNamespaceKeyFunc, nil),
		pvs:     cache.NewIndexer(cache.MetaNamespaceKeyFunc, nil),
		classes: cache.NewIndexer(cache.MetaNamespaceKeyFunc, nil)}
	for _, err := range []error{p.pvcs.Add(pvc), p.pvs.Add(pv), p.classes.Add(sc)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return p, c, rec
}

func drain(rec *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestResizeFlow(t *testing.T) {
	root := t.TempDir()
	pvc, pv := bound(root, "standard", "2Gi", "1Gi")
	if err := os.Mkdir(pv.Spec.HostPath.Path, 0o777); err != nil {
		t.Fatal(err)
	}
	p, c, rec := testProvisioner(t, pvc, pv, class("standard", ptr(true)), root)
	ctx := context.Background()
	if err := p.resize(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	gotPV, _ := c.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
	if s := gotPV.Spec.Capacity[corev1.ResourceStorage]; s.Cmp(q("2Gi")) != 0 {
		t.Errorf("PV capacity %s", s.String())
	}
	got, _ := c.CoreV1().PersistentVolumeClaims("ns").Get(ctx, "data", metav1.GetOptions{})
	if s := got.Status.Capacity[corev1.ResourceStorage]; s.Cmp(q("2Gi")) != 0 {
		t.Errorf("claim capacity %s", s.String())
	}
	if got.Status.AllocatedResourceStatuses != nil || strings.Join(conditionTypes(got), ",") != "SomeoneElses" {
		t.Errorf("claim status not completed: %+v", got.Status)
	}
	ev := strings.Join(drain(rec), "\n")
	if !strings.Contains(ev, "Normal Resizing External resizer is resizing volume pvc-uid1 to 2Gi") ||
		!strings.Contains(ev, "Normal VolumeResizeSuccessful") {
		t.Errorf("events:\n%s", ev)
	}
	// Done: a second pass, on the stale cache, does nothing.
	if err := p.resize(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	if ev := drain(rec); len(ev) > 0 {
		t.Errorf("second pass recorded %v", ev)
	}
}

func TestResizeMissingDirectory(t *testing.T) {
	root := t.TempDir()
	pvc, pv := bound(root, "standard", "2Gi", "1Gi") // no directory made
	p, c, rec := testProvisioner(t, pvc, pv, class("standard", ptr(true)), root)
	ctx := context.Background()
	if err := p.resize(ctx, pvc); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("resize error %v", err)
	}
	got, _ := c.CoreV1().PersistentVolumeClaims("ns").Get(ctx, "data", metav1.GetOptions{})
	if s := got.Status.AllocatedResourceStatuses[corev1.ResourceStorage]; s != corev1.PersistentVolumeClaimControllerResizeInfeasible {
		t.Errorf("status %v", s)
	}
	if s := got.Status.Capacity[corev1.ResourceStorage]; s.Cmp(q("1Gi")) != 0 {
		t.Errorf("claim capacity %s", s.String())
	}
	gotPV, _ := c.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
	if s := gotPV.Spec.Capacity[corev1.ResourceStorage]; s.Cmp(q("1Gi")) != 0 {
		t.Errorf("PV capacity %s", s.String())
	}
	if ev := strings.Join(drain(rec), "\n"); !strings.Contains(ev, "Warning VolumeResizeFailed") {
		t.Errorf("events:\n%s", ev)
	}
	// Not retried at the same size, from the live claim.
	if err := p.pvcs.Update(got); err != nil {
		t.Fatal(err)
	}
	if err := p.resize(ctx, got); err != nil {
		t.Fatal(err)
	}
	if ev := drain(rec); len(ev) > 0 {
		t.Errorf("retried at the same size: %v", ev)
	}
}

func TestResizeRefusedClass(t *testing.T) {
	root := t.TempDir()
	pvc, pv := bound(root, "quorum-local-fixed", "2Gi", "1Gi")
	if err := os.Mkdir(pv.Spec.HostPath.Path, 0o777); err != nil {
		t.Fatal(err)
	}
	p, c, rec := testProvisioner(t, pvc, pv, class("quorum-local-fixed", ptr(false)), root)
	if err := p.resize(context.Background(), pvc); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Actions()); n != 0 {
		t.Errorf("%d API calls for a claim of a fixed class: %v", n, c.Actions())
	}
	if ev := drain(rec); len(ev) > 0 {
		t.Errorf("events %v", ev)
	}
}
