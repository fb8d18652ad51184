// Package security checks the operator's privileges and the security
// settings of every pod it runs or ships, on the generated objects and on
// the rendered Helm chart.
package security

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

var root = filepath.Join("..", "..")

// allowed is every resource the operator may touch, as group/resource,
// with the verbs it may use. It is the current role; a new permission
// must be added here with its reason.
var allowed = map[string]struct {
	verbs  []string
	reason string
}{
	"/configmaps":                        {[]string{"create", "delete", "get", "list", "patch", "update", "watch"}, "owns each cluster's options/bootstrap ConfigMap"},
	"/secrets":                           {[]string{"create", "delete", "get", "list", "patch", "update", "watch"}, "issues CA, server, peer, client certificates and the root password"},
	"/services":                          {[]string{"create", "delete", "get", "list", "patch", "update", "watch"}, "owns the peer (headless) and client Services"},
	"/persistentvolumeclaims":            {[]string{"delete", "get", "list", "patch", "watch"}, "reads member claims (the StatefulSet creates them), raises their request when storage.size grows, deletes those of a cluster that never formed when it is deleted"},
	"/serviceaccounts":                   {[]string{"get"}, "checks, before a backup, prune or verification Job or a restoring member is made, that the ServiceAccount an S3 location (webIdentity, instanceRole) names exists"},
	"/pods":                              {[]string{"delete", "get", "list", "watch"}, "watches members and deletes one at a time for rollouts"},
	"apps/statefulsets":                  {[]string{"create", "delete", "get", "list", "patch", "update", "watch"}, "owns the members' StatefulSet"},
	"authentication.k8s.io/tokenreviews": {[]string{"create"}, "the metrics endpoint authenticates a scraper's bearer token (controller-runtime metrics/filters)"},
	"authorization.k8s.io/subjectaccessreviews":  {[]string{"create"}, "the metrics endpoint checks that the scraper may get /metrics (controller-runtime metrics/filters)"},
	"apps/controllerrevisions":                   {[]string{"get"}, "reads the pod template of the StatefulSet revision the healthy members run, to roll a stuck rollout back to it"},
	"batch/jobs":                                 {[]string{"create", "delete", "get", "list", "watch"}, "runs backup Jobs"},
	"coordination.k8s.io/leases":                 {[]string{"create", "delete", "get", "list", "patch", "update", "watch"}, "leader election"},
	"etcd.quorum.dev/etcdbackups":                {[]string{"create", "delete", "get", "list", "patch", "update", "watch"}, "schedules create and expire backups"},
	"etcd.quorum.dev/etcdbackups/status":         {[]string{"get", "patch", "update"}, "reports backup progress"},
	"etcd.quorum.dev/etcdbackupschedules/status": {[]string{"get", "patch", "update"}, "reports schedule state"},
	"etcd.quorum.dev/etcdclusters/status":        {[]string{"get", "patch", "update"}, "reports cluster state"},
	"etcd.quorum.dev/etcdbackupschedules":        {[]string{"get", "list", "patch", "update", "watch"}, "reconciles schedules"},
	"etcd.quorum.dev/etcdclusters":               {[]string{"get", "list", "patch", "update", "watch"}, "reconciles clusters"},
	"etcd.quorum.dev/etcdrestores":               {[]string{"get", "list", "patch", "update", "watch"}, "reconciles in-place restores"},
	"etcd.quorum.dev/etcdrestores/status":        {[]string{"get", "patch", "update"}, "reports restore progress"},
	"etcd.quorum.dev/etcdclusters/finalizers":    {[]string{"update"}, "sets owner references with blockOwnerDeletion"},
	"etcd.quorum.dev/etcdusers":                  {[]string{"get", "list", "patch", "update", "watch"}, "reconciles application users (its revoke finalizer)"},
	"etcd.quorum.dev/etcdusers/status":           {[]string{"get", "patch", "update"}, "reports user state"},
	"etcd.quorum.dev/etcdusers/finalizers":       {[]string{"update"}, "owns the users' credentials Secrets with blockOwnerDeletion"},
	"events.k8s.io/events":                       {[]string{"create", "list", "patch"}, "records events; lists those of its own Jobs (the Job controller's FailedCreate: a pod the API server refuses)"},
	"cert-manager.io/certificates":               {[]string{"create", "get", "patch"}, "with tls.certManager, applies the cluster's three cert-manager Certificates and reads their Ready condition"},
	"cert-manager.io/issuers":                    {[]string{"get"}, "with tls.certManager, reads whether the named Issuer exists and is Ready, for the status"},
	"cert-manager.io/clusterissuers":             {[]string{"get"}, "with tls.certManager, reads whether the named ClusterIssuer exists and is Ready, for the status"},
	"monitoring.coreos.com/podmonitors":          {[]string{"create", "delete", "get", "patch"}, "optional PodMonitor per cluster"},
	"monitoring.coreos.com/prometheusrules":      {[]string{"create", "delete", "get", "patch"}, "optional PrometheusRule (alerts) per cluster"},
	"networking.k8s.io/networkpolicies":          {[]string{"create", "delete", "get", "list", "patch", "update", "watch"}, "optional NetworkPolicy per cluster"},
	"storage.k8s.io/storageclasses":              {[]string{"get", "list", "watch"}, "reads allowVolumeExpansion of member claims' class before growing them"},
	"policy/poddisruptionbudgets":                {[]string{"create", "delete", "get", "list", "patch", "update", "watch"}, "keeps quorum through voluntary disruptions"},
}

// forbiddenVerbs grant more than the verbs' names say.
var forbiddenVerbs = []string{"*", "escalate", "bind", "impersonate"}

// helmBin is $HELM, else the pinned helm that hack/build-k8s.sh builds.
func helmBin(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("HELM"); bin != "" {
		return bin
	}
	cmd := exec.Command("bash", "-c", "source hack/versions.sh && echo $HELM_BIN")
	cmd.Dir = root
	out, err := cmd.Output()
	if err == nil {
		bin := filepath.Join(strings.TrimSpace(string(out)), "helm")
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
	}
	t.Fatal("no helm: set HELM to the helm binary or build the pinned one with `hack/build-k8s.sh helm`")
	return ""
}

// renderChart runs helm template on the operator chart and returns its
// objects by kind/name, as YAML.
func renderChart(t *testing.T) map[string][]byte {
	t.Helper()
	bin := helmBin(t)
	cmd := exec.Command(bin, "template", "quorum-operator", filepath.Join("charts", "quorum-operator"), "--namespace", "quorum-system")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	objs := map[string][]byte{}
	for _, doc := range strings.Split(string(out), "\n---") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if u.GetKind() != "" {
			objs[u.GetKind()+"/"+u.GetName()] = []byte(doc)
		}
	}
	return objs
}

func checkRules(t *testing.T, rules []rbacv1.PolicyRule) {
	t.Helper()
	if len(rules) == 0 {
		t.Fatal("no rules")
	}
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 || len(r.ResourceNames) > 0 {
			t.Errorf("unexpected nonResourceURLs or resourceNames in %+v", r)
		}
		for _, field := range [][]string{r.APIGroups, r.Resources, r.Verbs} {
			if slices.Contains(field, "*") {
				t.Errorf("wildcard in rule %+v", r)
			}
		}
		for _, v := range r.Verbs {
			if slices.Contains(forbiddenVerbs, v) {
				t.Errorf("verb %q in rule %+v", v, r)
			}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				a, ok := allowed[g+"/"+res]
				if !ok {
					t.Errorf("access to %s/%s is not in the allow-list", g, res)
					continue
				}
				for _, v := range r.Verbs {
					if !slices.Contains(a.verbs, v) {
						t.Errorf("verb %q on %s/%s is not allowed (allowed: %v)", v, g, res, a.verbs)
					}
				}
				if g == "" && res == "secrets" && slices.Contains(r.Verbs, "*") {
					t.Error("Secrets access is *")
				}
			}
		}
	}
}

func generatedRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(raw, role); err != nil {
		t.Fatal(err)
	}
	return role
}

func chartRole(t *testing.T) (*rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding) {
	t.Helper()
	objs := renderChart(t)
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(objs["ClusterRole/quorum-operator"], role); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{}
	if err := yaml.UnmarshalStrict(objs["ClusterRoleBinding/quorum-operator"], binding); err != nil {
		t.Fatal(err)
	}
	for k := range objs {
		if kind, _, _ := strings.Cut(k, "/"); (kind == "Role" || kind == "RoleBinding" || kind == "ClusterRole" || kind == "ClusterRoleBinding") &&
			k != "ClusterRole/quorum-operator" && k != "ClusterRoleBinding/quorum-operator" && k != metricsReaderKey {
			t.Errorf("chart renders unchecked RBAC object %s", k)
		}
	}
	return role, binding
}

func TestGeneratedRole(t *testing.T) {
	checkRules(t, generatedRole(t).Rules)
}

func TestChartRole(t *testing.T) {
	role, binding := chartRole(t)
	checkRules(t, role.Rules)
	if binding.RoleRef.Kind != "ClusterRole" || binding.RoleRef.Name != role.Name {
		t.Errorf("binding refers to %+v, not the chart's ClusterRole", binding.RoleRef)
	}
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "quorum-operator", Namespace: "quorum-system"}}
	if !reflect.DeepEqual(binding.Subjects, want) {
		t.Errorf("binding subjects %+v, want only the operator's ServiceAccount", binding.Subjects)
	}
}

func TestChartAndGeneratedRolesAgree(t *testing.T) {
	gen := generatedRole(t)
	chart, _ := chartRole(t)
	if !reflect.DeepEqual(gen.Rules, chart.Rules) {
		t.Fatalf("chart ClusterRole rules differ from config/rbac/role.yaml (run hack/sync-chart.sh):\nchart: %+v\nrole:  %+v", chart.Rules, gen.Rules)
	}
}

// Every allow-list entry is used: a permission dropped from the role must
// be dropped here too, so the list stays the role's documentation.
func TestAllowListIsCurrent(t *testing.T) {
	used := map[string]bool{}
	for _, r := range generatedRole(t).Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				used[g+"/"+res] = true
			}
		}
	}
	for k, a := range allowed {
		if !used[k] {
			t.Errorf("allow-list entry %s (%s) is not in the role", k, a.reason)
		}
		if a.reason == "" {
			t.Errorf("allow-list entry %s has no reason", k)
		}
	}
}

// metricsReaderKey is the chart's ClusterRole for scrapers of the
// operator's metrics (bound by the user to Prometheus' ServiceAccount).
const metricsReaderKey = "ClusterRole/quorum-operator-metrics-reader"

// checkMetricsReader: the metrics reader grants get on /metrics and
// nothing else.
func checkMetricsReader(t *testing.T, where string, raw []byte) {
	t.Helper()
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(raw, role); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	want := []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}
	if !reflect.DeepEqual(role.Rules, want) {
		t.Errorf("%s: rules %+v, want only get on /metrics", where, role.Rules)
	}
}

func TestMetricsReaderRole(t *testing.T) {
	objs := renderChart(t)
	raw, ok := objs[metricsReaderKey]
	if !ok {
		t.Fatalf("chart renders no %s", metricsReaderKey)
	}
	checkMetricsReader(t, "chart", raw)
	raw, err := os.ReadFile(filepath.Join(root, "config", "rbac", "metrics_reader_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	checkMetricsReader(t, "config/rbac/metrics_reader_role.yaml", raw)
}
