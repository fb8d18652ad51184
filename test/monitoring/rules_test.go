package monitoring

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// promtool is $PROMTOOL, else the pinned one hack/build-k8s.sh builds
// (make test builds it first).
func promtool(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("PROMTOOL"); bin != "" {
		return bin
	}
	cmd := exec.Command("bash", "-c", "source hack/versions.sh && echo $PROMTOOL_BIN")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err == nil {
		bin := filepath.Join(strings.TrimSpace(string(out)), "promtool")
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
	}
	t.Fatal("no promtool: set PROMTOOL or build the pinned one with `hack/build-k8s.sh promtool`")
	return ""
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The chart's rules are valid, and each alert fires on the synthetic
// series of testdata/alerts_test.yaml (and not on the others there).
func TestAlertRulesWithPromtool(t *testing.T) {
	bin := promtool(t)
	run(t, bin, "check", "rules", filepath.Join(chartFiles, "alerts.yaml"))
	run(t, bin, "test", "rules", filepath.Join("testdata", "alerts_test.yaml"))
}

// Every alert of the chart has a promtool test in which it fires, and
// every alert says how urgent it is and what it means.
func TestEveryAlertFiresInATest(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "alerts_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `json:"alertname"`
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(raw, &tests); err != nil {
		t.Fatal(err)
	}
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range readRules(t, filepath.Join(chartFiles, "alerts.yaml")).Groups {
		for _, r := range g.Rules {
			n++
			if !fires[r.Alert] {
				t.Errorf("alert %s fires in no promtool test (testdata/alerts_test.yaml)", r.Alert)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s lacks a summary or a description", r.Alert)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d alerts in the chart's rules", n)
	}
}

// A cluster's own rules (spec.monitoring.prometheusRule) are valid, read
// only that cluster's series, and leave out the operator-wide group.
func TestClusterAlertRules(t *testing.T) {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "main", Namespace: "db"}}
	rules := render.AlertRules(render.ClusterAlertScope(c))
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, promtool(t), "check", "rules", path)
	f := readRules(t, path)
	chart := readRules(t, filepath.Join(chartFiles, "alerts.yaml"))
	if len(f.Groups) != 1 || f.Groups[0].Name != "quorum-etcd" || len(f.Groups[0].Rules) != len(chart.Groups[0].Rules) {
		t.Fatalf("cluster rules: want the chart's quorum-etcd group alone, got %+v", f.Groups)
	}
	for _, r := range f.Groups[0].Rules {
		// Every selector of the rule names the cluster.
		if n, m := strings.Count(r.Expr, "{"), strings.Count(r.Expr, `namespace="db",etcd_cluster="main"`); n == 0 || n != m {
			t.Errorf("alert %s: %d of %d selectors name the cluster: %s", r.Alert, m, n, r.Expr)
		}
	}
}
