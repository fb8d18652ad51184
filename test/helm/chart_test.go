// Package helm tests the operator chart by rendering it with the real helm
// binary (HELM names it; `make test` builds it) and reading the objects.
package helm

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"quorum.dev/etcd-operator/internal/version"
)

var chart = filepath.Join("..", "..", "charts", "quorum-operator")

func helm(t *testing.T, args ...string) string {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		t.Fatal("HELM must name the helm binary (make test sets it)")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("helm %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// render returns the rendered objects by kind/name.
func render(t *testing.T, set ...string) map[string][]byte {
	t.Helper()
	return renderWith(t, nil, set...)
}

// renderWith renders with extra helm template flags (--api-versions ...)
// besides the --set values.
func renderWith(t *testing.T, flags []string, set ...string) map[string][]byte {
	t.Helper()
	args := append([]string{"template", "quorum-operator", chart, "--namespace", "quorum-system"}, flags...)
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out := helm(t, args...)
	objs := map[string][]byte{}
	for _, doc := range strings.Split(out, "\n---") {
		doc = strings.TrimSpace(doc)
		if doc == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if u.GetKind() == "" {
			continue
		}
		objs[u.GetKind()+"/"+u.GetName()] = []byte(doc)
	}
	return objs
}

func TestLint(t *testing.T) {
	if out := helm(t, "lint", "--strict", chart); !strings.Contains(out, "0 chart(s) failed") {
		t.Fatalf("lint:\n%s", out)
	}
}

func TestChartRBACMatchesGeneratedRole(t *testing.T) {
	objs := render(t)
	got := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(objs["ClusterRole/quorum-operator"], got); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(raw, want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Rules, want.Rules) {
		t.Fatalf("chart ClusterRole rules differ from config/rbac/role.yaml:\n%v\n%v", got.Rules, want.Rules)
	}
	for _, r := range got.Rules {
		for _, field := range [][]string{r.APIGroups, r.Resources, r.Verbs} {
			for _, v := range field {
				if v == "*" {
					t.Errorf("wildcard in operator RBAC rule %+v", r)
				}
			}
		}
	}
	if _, ok := objs["ClusterRoleBinding/quorum-operator"]; !ok {
		t.Error("no ClusterRoleBinding")
	}
}

// The chart's CRDs are templates (so `helm upgrade` upgrades them) rendered
// from config/crd/bases by hack/sync-chart.sh: apart from the chart's labels
// and the keep annotation they are the generated ones, every one of them,
// and crds.enabled=false renders none.
func TestChartCRDsAreTheGeneratedOnes(t *testing.T) {
	objs := render(t)
	bases, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) == 0 {
		t.Fatalf("no generated CRDs: %v", err)
	}
	for _, base := range bases {
		raw, err := os.ReadFile(base)
		if err != nil {
			t.Fatal(err)
		}
		want := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(raw, &want.Object); err != nil {
			t.Fatal(err)
		}
		key := "CustomResourceDefinition/" + want.GetName()
		doc, ok := objs[key]
		if !ok {
			t.Errorf("chart has no %s (from %s): run make generate", key, base)
			continue
		}
		got := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &got.Object); err != nil {
			t.Fatal(err)
		}
		ann := got.GetAnnotations()
		if ann["helm.sh/resource-policy"] != "keep" {
			t.Errorf("%s lacks helm.sh/resource-policy: keep (helm uninstall would delete every object of its kind): %v", key, ann)
		}
		if l := got.GetLabels(); l["app.kubernetes.io/managed-by"] != "Helm" || l["helm.sh/chart"] == "" {
			t.Errorf("%s lacks the chart's labels: %v", key, l)
		}
		delete(ann, "helm.sh/resource-policy")
		got.SetAnnotations(ann)
		got.SetLabels(nil)
		if !reflect.DeepEqual(got.Object, want.Object) {
			t.Errorf("%s differs from %s beyond labels and the keep annotation: run make generate", key, base)
		}
		delete(objs, key)
	}
	for key := range objs {
		if strings.HasPrefix(key, "CustomResourceDefinition/") {
			t.Errorf("chart renders %s, which config/crd/bases does not have", key)
		}
	}
	for key := range render(t, "crds.enabled=false") {
		if strings.HasPrefix(key, "CustomResourceDefinition/") {
			t.Errorf("crds.enabled=false renders %s", key)
		}
	}
}

func TestDeploymentValues(t *testing.T) {
	cases := []struct {
		name string
		set  []string
		want []string
	}{
		{"defaults", nil, []string{"--leader-elect=true", "--etcd-image-repository=quorum.dev/etcd-server", "--watch-namespaces=", "--metrics-bind-address=:8443", "--metrics-secure=true"}},
		{"watch namespaces and no metrics", []string{"watchNamespaces={a,b}", "metrics.enabled=false", "leaderElection.enabled=false"},
			[]string{"--watch-namespaces=a,b", "--metrics-bind-address=0", "--leader-elect=false"}},
		{"plain http metrics", []string{"metrics.secure=false", "metrics.port=8080"}, []string{"--metrics-bind-address=:8080", "--metrics-secure=false"}},
		{"custom image", []string{"image.repository=example.com/q", "image.tag=9.9.9", "etcdImageRepository=example.com/etcd"},
			[]string{"--etcd-image-repository=example.com/etcd"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.set...)
			d := &appsv1.Deployment{}
			if err := yaml.Unmarshal(objs["Deployment/quorum-operator"], d); err != nil {
				t.Fatal(err)
			}
			ctr := d.Spec.Template.Spec.Containers[0]
			args := strings.Join(ctr.Args, " ")
			for _, w := range tc.want {
				if !strings.Contains(args+" ", w+" ") {
					t.Errorf("args %q lack %q", args, w)
				}
			}
			if tc.name == "custom image" && ctr.Image != "example.com/q:9.9.9" {
				t.Errorf("image %q", ctr.Image)
			}
			if tc.name == "defaults" && ctr.Image != "quorum.dev/etcd-operator:0.1.0" {
				t.Errorf("image %q", ctr.Image)
			}
			sc := ctr.SecurityContext
			if sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !*d.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
				t.Error("operator pod must be non-root with a read-only root filesystem")
			}
		})
	}
	d := &appsv1.Deployment{}
	if err := yaml.Unmarshal(render(t, "extraEnv[0].name=QUORUM_FAILPOINTS", "extraEnv[0].value=x")["Deployment/quorum-operator"], d); err != nil {
		t.Fatal(err)
	}
	env := d.Spec.Template.Spec.Containers[0].Env
	if len(env) != 2 || env[0].Name != "POD_NAMESPACE" || env[1].Name != "QUORUM_FAILPOINTS" || env[1].Value != "x" {
		t.Errorf("extraEnv not passed through: %+v", env)
	}
	if _, ok := render(t, "metrics.enabled=false")["Service/quorum-operator-metrics"]; ok {
		t.Error("metrics Service rendered with metrics disabled")
	}
}

// The Prometheus Operator's kinds, as helm template --api-versions names
// them (what .Capabilities.APIVersions.Has checks in the templates).
var prometheusOperatorAPIs = []string{"--api-versions", "monitoring.coreos.com/v1/PrometheusRule", "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"}

// The monitoring objects are off by default, and when on carry the
// generated alert rules, the dashboard JSON and a ServiceMonitor that
// scrapes the metrics Service the way the metrics endpoint serves. The
// Prometheus Operator's kinds render only where their CRDs are served:
// without them, enabled=true would fail the install.
func TestMonitoringObjects(t *testing.T) {
	objs := renderWith(t, prometheusOperatorAPIs)
	for _, k := range []string{"ServiceMonitor/quorum-operator", "PrometheusRule/quorum-operator", "ConfigMap/quorum-operator-dashboard"} {
		if _, ok := objs[k]; ok {
			t.Errorf("%s rendered by default", k)
		}
	}
	on := []string{"metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=prom",
		"prometheusRule.enabled=true", "prometheusRule.labels.release=prom", "grafanaDashboard.enabled=true"}
	objs = render(t, on...)
	for _, k := range []string{"ServiceMonitor/quorum-operator", "PrometheusRule/quorum-operator"} {
		if _, ok := objs[k]; ok {
			t.Errorf("%s rendered without the monitoring.coreos.com/v1 API", k)
		}
	}
	if _, ok := objs["ConfigMap/quorum-operator-dashboard"]; !ok {
		t.Error("the dashboard ConfigMap (no CRD needed) not rendered without the monitoring.coreos.com/v1 API")
	}
	// Each kind needs its own CRD.
	objs = renderWith(t, prometheusOperatorAPIs[:2], on...)
	if _, ok := objs["ServiceMonitor/quorum-operator"]; ok {
		t.Error("ServiceMonitor rendered with only the PrometheusRule API")
	}
	if _, ok := objs["PrometheusRule/quorum-operator"]; !ok {
		t.Error("PrometheusRule not rendered with its API")
	}
	objs = renderWith(t, prometheusOperatorAPIs, on...)

	sm := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(objs["ServiceMonitor/quorum-operator"], &sm.Object); err != nil || sm.GetKind() == "" {
		t.Fatalf("no ServiceMonitor: %v", err)
	}
	if sm.GetLabels()["release"] != "prom" {
		t.Errorf("ServiceMonitor labels %v lack release=prom", sm.GetLabels())
	}
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) != 1 {
		t.Fatalf("ServiceMonitor endpoints %v", eps)
	}
	ep := eps[0].(map[string]any)
	if ep["port"] != "metrics" || ep["scheme"] != "https" || ep["honorLabels"] != true || ep["bearerTokenFile"] == nil {
		t.Errorf("ServiceMonitor endpoint %v: want port metrics, https with a bearer token, honorLabels", ep)
	}
	svc := &corev1.Service{}
	if err := yaml.Unmarshal(objs["Service/quorum-operator-metrics"], svc); err != nil {
		t.Fatal(err)
	}
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	for k, v := range sel {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, which the metrics Service lacks (%v)", k, v, svc.Labels)
		}
	}
	plain := string(renderWith(t, prometheusOperatorAPIs, "metrics.serviceMonitor.enabled=true", "metrics.secure=false")["ServiceMonitor/quorum-operator"])
	if !strings.Contains(plain, "scheme: http") || strings.Contains(plain, "scheme: https") {
		t.Errorf("with metrics.secure=false the ServiceMonitor must scrape plain http:\n%s", plain)
	}

	pr := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(objs["PrometheusRule/quorum-operator"], &pr.Object); err != nil {
		t.Fatal(err)
	}
	groups, _, _ := unstructured.NestedSlice(pr.Object, "spec", "groups")
	rulesFile, err := os.ReadFile(filepath.Join(chart, "files", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{}
	if err := yaml.Unmarshal(rulesFile, &want); err != nil {
		t.Fatal(err)
	}
	if len(groups) == 0 || !reflect.DeepEqual(groups, want["groups"]) {
		t.Errorf("PrometheusRule groups differ from files/alerts.yaml")
	}
	if pr.GetLabels()["release"] != "prom" {
		t.Errorf("PrometheusRule labels %v lack release=prom", pr.GetLabels())
	}

	cm := &corev1.ConfigMap{}
	if err := yaml.Unmarshal(objs["ConfigMap/quorum-operator-dashboard"], cm); err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile(filepath.Join(chart, "files", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cm.Labels["grafana_dashboard"] != "1" || strings.TrimSpace(cm.Data["quorum-etcd.json"]) != strings.TrimSpace(string(dash)) {
		t.Errorf("dashboard ConfigMap: labels %v, data equal to files/dashboard.json: %v", cm.Labels, strings.TrimSpace(cm.Data["quorum-etcd.json"]) == strings.TrimSpace(string(dash)))
	}
}

// The chart's appVersion and the image tag it defaults to are the
// operator's own release (internal/version): the server image tag the
// operator asks for ("<etcd version>-quorum.<release>") is only built and
// shipped with that release.
func TestChartVersionIsTheOperatorsRelease(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.AppVersion != version.Version {
		t.Errorf("Chart.yaml appVersion %q, internal/version.Version %q: release them together", meta.AppVersion, version.Version)
	}
}
