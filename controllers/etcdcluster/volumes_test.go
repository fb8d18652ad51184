package etcdcluster

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func claim(name, class, request, capacity string) corev1.PersistentVolumeClaim {
	pvc := corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if class != "" {
		pvc.Spec.StorageClassName = ptr.To(class)
	}
	pvc.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(request)}
	if capacity != "" {
		pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(capacity)}
	}
	return pvc
}

// pending is a claim as the API server shows it before it binds.
func pending(pvc corev1.PersistentVolumeClaim) corev1.PersistentVolumeClaim {
	pvc.Status.Phase = corev1.ClaimPending
	return pvc
}

func infeasible(pvc corev1.PersistentVolumeClaim, msg string) corev1.PersistentVolumeClaim {
	pvc.Status.AllocatedResourceStatuses = map[corev1.ResourceName]corev1.ClaimResourceStatus{
		corev1.ResourceStorage: corev1.PersistentVolumeClaimControllerResizeInfeasible}
	pvc.Status.Conditions = []corev1.PersistentVolumeClaimCondition{{
		Type: corev1.PersistentVolumeClaimControllerResizeError, Status: corev1.ConditionTrue, Message: msg}}
	return pvc
}

func TestPlanVolumes(t *testing.T) {
	classes := map[string]claimClass{
		"standard": {Found: true, AllowExpansion: true},
		"fixed":    {Found: true},
	}
	cases := []struct {
		name         string
		want         string
		claims       []corev1.PersistentVolumeClaim
		wantGrow     []string
		wantUnbound  []string
		wantCapacity string // "" for none
		wantReason   string
		wantInMsg    []string
	}{
		{name: "at size", want: "1Gi",
			claims:       []corev1.PersistentVolumeClaim{claim("d-0", "standard", "1Gi", "1Gi"), claim("d-1", "standard", "1Gi", "1Gi")},
			wantCapacity: "1Gi", wantReason: etcdv1.ReasonVolumesAtSize},
		{name: "provisioner gave more than asked", want: "1Gi",
			claims:       []corev1.PersistentVolumeClaim{claim("d-0", "standard", "1Gi", "10Gi")},
			wantCapacity: "10Gi", wantReason: etcdv1.ReasonVolumesAtSize},
		{name: "grown: every claim asked at once", want: "2Gi",
			claims:       []corev1.PersistentVolumeClaim{claim("d-0", "standard", "1Gi", "1Gi"), claim("d-1", "standard", "1Gi", "1Gi")},
			wantGrow:     []string{"d-0", "d-1"},
			wantCapacity: "1Gi", wantReason: etcdv1.ReasonVolumeExpanding, wantInMsg: []string{"d-0", "2Gi", "without restarting"}},
		{name: "asked, resizer still working: not asked again; capacity is the smallest", want: "2Gi",
			claims:       []corev1.PersistentVolumeClaim{claim("d-0", "standard", "2Gi", "2Gi"), claim("d-1", "standard", "2Gi", "1Gi")},
			wantCapacity: "1Gi", wantReason: etcdv1.ReasonVolumeExpanding, wantInMsg: []string{"d-1 (has 1Gi, asked 2Gi)"}},
		{name: "all grown", want: "2Gi",
			claims:       []corev1.PersistentVolumeClaim{claim("d-0", "standard", "2Gi", "2Gi"), claim("d-1", "standard", "2Gi", "2Gi")},
			wantCapacity: "2Gi", wantReason: etcdv1.ReasonVolumesAtSize},
		{name: "a new member's claim not bound yet: nothing to expand, not counted", want: "2Gi",
			claims:       []corev1.PersistentVolumeClaim{claim("d-0", "standard", "2Gi", "2Gi"), claim("d-1", "standard", "2Gi", "")},
			wantUnbound:  []string{"d-1"},
			wantCapacity: "2Gi", wantReason: etcdv1.ReasonVolumesAtSize, wantInMsg: []string{"every bound member claim has at least 2Gi", "d-1 not bound to a volume yet"}},
		{name: "a new cluster: no claim bound, none expanding", want: "1Gi",
			claims:      []corev1.PersistentVolumeClaim{pending(claim("d-0", "standard", "1Gi", "")), claim("d-1", "standard", "1Gi", "")},
			wantUnbound: []string{"d-0", "d-1"}, wantReason: etcdv1.ReasonVolumesAtSize},
		{name: "an unbound claim below the wanted size is not asked to grow (only a bound claim's request may change)", want: "2Gi",
			claims:       []corev1.PersistentVolumeClaim{claim("d-0", "standard", "2Gi", "2Gi"), pending(claim("d-1", "standard", "1Gi", ""))},
			wantUnbound:  []string{"d-1"},
			wantCapacity: "2Gi", wantReason: etcdv1.ReasonVolumesAtSize},
		{name: "a bound claim below the wanted size is expanding; an unbound one beside it is not", want: "2Gi",
			claims: []corev1.PersistentVolumeClaim{claim("d-0", "standard", "2Gi", "2Gi"), claim("d-1", "standard", "2Gi", "1Gi"),
				pending(claim("d-2", "standard", "2Gi", ""))},
			wantUnbound:  []string{"d-2"},
			wantCapacity: "1Gi", wantReason: etcdv1.ReasonVolumeExpanding, wantInMsg: []string{"d-1 (has 1Gi, asked 2Gi)"}},
		{name: "class without expansion: refused, named, nothing asked", want: "2Gi",
			claims:       []corev1.PersistentVolumeClaim{claim("d-0", "fixed", "1Gi", "1Gi"), claim("d-1", "fixed", "1Gi", "1Gi")},
			wantCapacity: "1Gi", wantReason: etcdv1.ReasonVolumeExpansionUnsupported,
			wantInMsg: []string{"StorageClass fixed does not allow volume expansion", "d-0, d-1", "stay at 1Gi", "asks for 2Gi", "nothing is restarted", "allowVolumeExpansion: true"}},
		{name: "missing class", want: "2Gi",
			claims:       []corev1.PersistentVolumeClaim{claim("d-0", "gone", "1Gi", "1Gi")},
			wantCapacity: "1Gi", wantReason: etcdv1.ReasonVolumeExpansionUnsupported, wantInMsg: []string{"StorageClass gone does not exist"}},
		{name: "claim without class", want: "2Gi",
			claims:       []corev1.PersistentVolumeClaim{claim("d-0", "", "1Gi", "1Gi")},
			wantCapacity: "1Gi", wantReason: etcdv1.ReasonVolumeExpansionUnsupported, wantInMsg: []string{"no StorageClass"}},
		{name: "resizer gave up: its message, not asked again, others still grow", want: "2Gi",
			claims:       []corev1.PersistentVolumeClaim{infeasible(claim("d-0", "standard", "2Gi", "1Gi"), "disk full on node"), claim("d-1", "standard", "1Gi", "1Gi")},
			wantGrow:     []string{"d-1"},
			wantCapacity: "1Gi", wantReason: etcdv1.ReasonVolumeExpansionInfeasible, wantInMsg: []string{"d-0: disk full on node", "nothing is restarted"}},
		{name: "request above spec (grown by hand): never shrunk", want: "1Gi",
			claims:       []corev1.PersistentVolumeClaim{claim("d-0", "standard", "3Gi", "3Gi")},
			wantCapacity: "3Gi", wantReason: etcdv1.ReasonVolumesAtSize},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := planVolumes(resource.MustParse(tc.want), tc.claims, classes)
			if !slices.Equal(got.Grow, tc.wantGrow) {
				t.Errorf("grow %v, want %v", got.Grow, tc.wantGrow)
			}
			if !slices.Equal(got.Unbound, tc.wantUnbound) {
				t.Errorf("unbound %v, want %v", got.Unbound, tc.wantUnbound)
			}
			if got.Reason == etcdv1.ReasonVolumeExpanding && len(tc.wantUnbound) > 0 {
				for _, name := range tc.wantUnbound {
					if strings.Contains(got.Message, name) {
						t.Errorf("unbound claim %s named as expanding: %q", name, got.Message)
					}
				}
			}
			if got.Reason != tc.wantReason {
				t.Errorf("reason %s, want %s (%s)", got.Reason, tc.wantReason, got.Message)
			}
			if got.Grown != (tc.wantReason == etcdv1.ReasonVolumesAtSize) {
				t.Errorf("grown %v with reason %s", got.Grown, got.Reason)
			}
			switch {
			case tc.wantCapacity == "" && got.Capacity != nil:
				t.Errorf("capacity %s, want none", got.Capacity)
			case tc.wantCapacity != "" && (got.Capacity == nil || got.Capacity.Cmp(resource.MustParse(tc.wantCapacity)) != 0):
				t.Errorf("capacity %v, want %s", got.Capacity, tc.wantCapacity)
			}
			for _, s := range tc.wantInMsg {
				if !strings.Contains(got.Message, s) {
					t.Errorf("message %q lacks %q", got.Message, s)
				}
			}
		})
	}
}

func TestQuotaFollowsCapacity(t *testing.T) {
	c := &etcdv1.EtcdCluster{}
	c.Spec.Storage.Size = ptr.To(resource.MustParse("2Gi"))
	derived := func() int64 { return etcdv1.QuotaBackendBytes(nil, c.QuotaVolume()) }
	if got, want := derived(), int64((2<<30)-(384<<20))/2; got != want {
		t.Fatalf("no capacity recorded: quota %d, want %d (from spec)", got, want)
	}
	c.Status.Storage = &etcdv1.StorageStatus{Capacity: ptr.To(resource.MustParse("1Gi"))}
	if got, want := derived(), int64((1<<30)-(384<<20))/2; got != want {
		t.Fatalf("claims still at 1Gi: quota %d, want %d (from what the disks have)", got, want)
	}
	c.Status.Storage.Capacity = ptr.To(resource.MustParse("10Gi"))
	if got, want := derived(), int64((2<<30)-(384<<20))/2; got != want {
		t.Fatalf("claims bigger than asked: quota %d, want %d (never above the spec's size)", got, want)
	}
}

func TestReplaceWaits(t *testing.T) {
	sts := func(replicas int32) *appsv1.StatefulSet {
		s := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(replicas)}}
		s.Generation, s.Status.ObservedGeneration = 2, 2
		return s
	}
	cluster := func(desired int32, roles ...etcdv1.MemberRole) *etcdv1.EtcdCluster {
		c := &etcdv1.EtcdCluster{}
		c.Spec.Replicas = ptr.To(desired)
		for _, r := range roles {
			c.Status.Members = append(c.Status.Members, etcdv1.MemberStatus{Role: r})
		}
		return c
	}
	voters3 := []etcdv1.MemberRole{etcdv1.RoleLeader, etcdv1.RoleFollower, etcdv1.RoleFollower}
	lagging := sts(3)
	lagging.Status.ObservedGeneration = 1
	cases := []struct {
		name string
		p    *pass
		sts  *appsv1.StatefulSet
		want string // substring; "" for no wait
	}{
		{"settled", &pass{cluster: cluster(3, voters3...)}, sts(3), ""},
		{"scaling up", &pass{cluster: cluster(5, voters3...)}, sts(3), "membership change"},
		{"statefulset grown, member not added yet", &pass{cluster: cluster(3, voters3...)}, sts(4), "membership change"},
		{"learner", &pass{cluster: cluster(3, etcdv1.RoleLeader, etcdv1.RoleFollower, etcdv1.RoleLearner)}, sts(3), "learner"},
		{"member removed from etcd, pod still there", &pass{cluster: cluster(3, etcdv1.RoleLeader, etcdv1.RoleFollower)}, sts(3), "membership change"},
		{"in-place restore", &pass{cluster: cluster(3, voters3...), inPlace: &etcdv1.EtcdRestore{}}, sts(3), "restore"},
		{"statefulset controller behind", &pass{cluster: cluster(3, voters3...)}, lagging, "caught up"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := replaceWaits(tc.p, tc.sts)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("replaceWaits = %q, want %q", got, tc.want)
			}
		})
	}
	restoring := cluster(3, voters3...)
	restoring.Status.Restore = &etcdv1.ClusterRestoreStatus{Name: "r"}
	if got := replaceWaits(&pass{cluster: restoring}, sts(3)); !strings.Contains(got, "restore") {
		t.Errorf("unfinished restore in status: %q", got)
	}
}

func TestClaimTemplatesDiffer(t *testing.T) {
	tmpl := func(size string) *appsv1.StatefulSet {
		s := &appsv1.StatefulSet{}
		s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{claim("data", "standard", size, "")}
		return s
	}
	if claimTemplatesDiffer(tmpl("1Gi"), tmpl("1024Mi")) {
		t.Error("1Gi and 1024Mi are the same size")
	}
	if !claimTemplatesDiffer(tmpl("1Gi"), tmpl("2Gi")) {
		t.Error("1Gi and 2Gi differ")
	}
	defaulted := tmpl("1Gi")
	defaulted.Spec.VolumeClaimTemplates[0].Spec.StorageClassName = nil
	if claimTemplatesDiffer(tmpl("1Gi"), defaulted) {
		t.Error("a class filled in by the API server is no difference when the spec names none")
	}
	if !claimTemplatesDiffer(&appsv1.StatefulSet{}, tmpl("1Gi")) {
		t.Error("a missing template differs")
	}
}
