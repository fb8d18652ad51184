package monitoring

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var chartFiles = filepath.Join("..", "..", "charts", "quorum-operator", "files")

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			For         string            `json:"for"`
		} `json:"rules"`
	} `json:"groups"`
}

func readRules(t *testing.T, path string) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(f.Groups) == 0 {
		t.Fatalf("%s has no rule groups", path)
	}
	return f
}

// dashboardQueries returns every query of the dashboard (panel targets,
// also inside rows, and query variables), keyed by where it is.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(chartFiles, "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		UID        string            `json:"uid"`
		Title      string            `json:"title"`
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard.json does not parse: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Fatal("dashboard has no uid or title")
	}
	q := map[string]string{}
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, r := range ps {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("panel does not parse: %v", err)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q target %s has no expr", p.Title, tg.RefID)
				}
				q["panel "+p.Title+" "+tg.RefID] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var s struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &s); err != nil {
			var plain string
			if err := json.Unmarshal(v.Query, &plain); err != nil {
				t.Fatalf("variable %s: query is neither an object nor a string", v.Name)
			}
			s.Query = plain
		}
		q["variable "+v.Name] = s.Query
	}
	if len(q) < 10 {
		t.Fatalf("only %d dashboard queries found", len(q))
	}
	return q
}

// Every metric the alert rules and the dashboard query is one the
// operator registers or a real etcd serves: a renamed metric fails here
// instead of leaving a silent alert or an empty panel.
func TestQueriesUseExportedMetrics(t *testing.T) {
	known := operatorMetrics(t)
	etcd := etcdMetrics(t)
	for n := range etcd {
		known[n] = true
	}
	queries := dashboardQueries(t)
	for _, g := range readRules(t, filepath.Join(chartFiles, "alerts.yaml")).Groups {
		for _, r := range g.Rules {
			queries["alert "+r.Alert] = r.Expr
		}
	}
	used := map[string]bool{}
	for where, q := range queries {
		names := metricNames(q)
		if len(names) == 0 {
			t.Errorf("%s: no metric name found in %q", where, q)
		}
		for _, n := range names {
			used[n] = true
			if !known[n] {
				t.Errorf("%s: metric %s is exported neither by the operator nor by etcd (query %q)", where, n, q)
			}
		}
	}
	// The dashboard and rules cover both sources.
	for _, n := range []string{"etcd_server_has_leader", "quorum_etcdcluster_healthy_members", "controller_runtime_reconcile_errors_total"} {
		if !used[n] {
			t.Errorf("no query uses %s", n)
		}
	}
}
