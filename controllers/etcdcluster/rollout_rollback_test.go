package etcdcluster

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

func testTemplate(memory string) corev1.PodTemplateSpec {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
	if memory != "" {
		c.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memory)}
	}
	return render.StatefulSet(c, render.Options{}, 3, render.DesiredRevision(c, render.Options{}, "aaaa"), nil).Spec.Template
}

func TestTemplateHash(t *testing.T) {
	hash := func(tpl corev1.PodTemplateSpec) string {
		h, err := templateHash(tpl)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	healthy, again, oom := hash(testTemplate("")), hash(testTemplate("")), hash(testTemplate("20Mi"))
	if len(healthy) != 16 || strings.Trim(healthy, "0123456789abcdef") != "" {
		t.Errorf("hash %q, want 16 hex digits", healthy)
	}
	if healthy != again {
		t.Errorf("the same template hashes to %s and %s", healthy, again)
	}
	if healthy == oom {
		t.Error("a changed memory limit gives the same hash")
	}
	labelled := testTemplate("")
	labelled.Labels["team"] = "a"
	if hash(labelled) == healthy {
		t.Error("a changed pod label gives the same hash")
	}
}

// revisionData is what the StatefulSet controller stores in a
// ControllerRevision: the patch back to the template, "$patch" included.
func revisionData(tpl corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(tpl)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	m["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": m}})
}

func TestRevisionTemplate(t *testing.T) {
	want := testTemplate("")
	data, err := revisionData(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := revisionTemplate(data)
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(*got, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", *got, want)
	}
	for _, bad := range []struct{ name, raw, err string }{
		{"not JSON", `{"spec":`, "decoding controller revision data"},
		{"no template", `{"spec":{"replicas":3}}`, "no spec.template"},
		{"template of the wrong shape", `{"spec":{"template":{"spec":{"containers":"etcd"}}}}`, "decoding the pod template"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if _, err := revisionTemplate([]byte(bad.raw)); err == nil || !strings.Contains(err.Error(), bad.err) {
				t.Errorf("error %v, want one with %q", err, bad.err)
			}
		})
	}
}

func TestRollbackRevision(t *testing.T) {
	pod := func(o int, rev string, ready, healthy bool) podInfo {
		return podInfo{Name: "db-" + string(rune('0'+o)), Ordinal: o, Revision: rev, Ready: ready, Healthy: healthy}
	}
	cases := []struct {
		name            string
		pods            []podInfo
		current, update string
		want            string
	}{
		{"the healthy members run currentRevision", []podInfo{pod(0, "r0", true, true), pod(1, "r0", true, true), pod(2, "r1", false, false)}, "r0", "r1", "r0"},
		{"currentRevision wins over a majority", []podInfo{pod(0, "r5", true, true), pod(1, "r5", true, true), pod(2, "r0", true, true), pod(3, "r1", false, false)}, "r0", "r1", "r0"},
		{"else the revision most healthy members run", []podInfo{pod(0, "r4", true, true), pod(1, "r5", true, true), pod(2, "r5", true, true), pod(3, "r1", false, false)}, "r0", "r1", "r5"},
		{"a tie goes to the lowest ordinal", []podInfo{pod(2, "r5", true, true), pod(0, "r4", true, true), pod(3, "r1", false, false)}, "r0", "r1", "r4"},
		{"pods not ready or not healthy do not count", []podInfo{pod(0, "r4", false, true), pod(1, "r5", true, false), pod(2, "r1", false, false)}, "r0", "r1", "r0"},
		{"a healthy member on the update revision is no rollback", []podInfo{pod(0, "r1", true, true), pod(1, "r1", false, false)}, "r1", "r1", ""},
		{"a single member falls back to currentRevision", []podInfo{pod(0, "r1", false, false)}, "r0", "r1", "r0"},
		{"nothing known", nil, "", "r1", ""},
		{"a pod without the label is skipped", []podInfo{pod(0, "", true, true), pod(1, "r1", false, false)}, "r1", "r1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := rollbackRevision(tc.pods, tc.current, tc.update); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRolledBackHalt(t *testing.T) {
	h := rolledBackHalt(&etcdv1.StuckRollout{Pod: "db-2", Revision: "db-5d4f", Message: "db-2, restarted with the new spec, did not become and stay ready within 60s: OOMKilled"})
	if h.Reason != etcdv1.ReasonRolloutStuck {
		t.Errorf("reason %s", h.Reason)
	}
	for _, w := range []string{"db-2", "OOMKilled", "db-5d4f", "a member pod that restarts comes back with it", "Revert the change or fix it"} {
		if !strings.Contains(h.Message, w) {
			t.Errorf("message %q lacks %q", h.Message, w)
		}
	}
}
