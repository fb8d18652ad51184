package render

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// specPath is an EtcdCluster field path as the alert texts name it:
// spec.quota.backendBytes.
var specPath = regexp.MustCompile(`\bspec(\.[a-zA-Z][a-zA-Z0-9]*)+`)

// etcdClusterSpecSchema reads the openAPIV3Schema of spec from the
// generated EtcdCluster CRD (config/crd/bases).
func etcdClusterSpecSchema(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "etcd.quorum.dev_etcdclusters.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := map[string]any{}
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	versions, _, _ := unstructured.NestedSlice(crd, "spec", "versions")
	if len(versions) == 0 {
		t.Fatal("the EtcdCluster CRD has no versions")
	}
	spec, ok, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema", "properties", "spec")
	if !ok {
		t.Fatal("the EtcdCluster CRD's schema has no spec")
	}
	return spec
}

// schemaHas reports whether the dotted path (after "spec") is a property
// chain of schema.
func schemaHas(schema map[string]any, path []string) bool {
	for _, field := range path {
		next, ok, _ := unstructured.NestedMap(schema, "properties", field)
		if !ok {
			return false
		}
		schema = next
	}
	return true
}

// Every spec.* field an alert tells users to change exists in the
// EtcdCluster CRD (EtcdDatabaseNearQuota once named
// spec.storage.quotaBackendBytes, a field that never existed). Both scopes
// are read: the chart's (files/alerts.yaml) and a cluster's own.
func TestAlertTextsNameRealSpecFields(t *testing.T) {
	schema := etcdClusterSpecSchema(t)
	if !schemaHas(schema, []string{"quota", "backendBytes"}) || schemaHas(schema, []string{"storage", "quotaBackendBytes"}) {
		t.Fatal("schemaHas does not read the CRD's schema as expected")
	}
	named := 0
	for _, rules := range []string{AlertRules(ChartAlertScope), AlertRules(ClusterAlertScope(cluster(nil)))} {
		doc := struct {
			Groups []struct {
				Rules []struct {
					Alert       string            `json:"alert"`
					Annotations map[string]string `json:"annotations"`
				} `json:"rules"`
			} `json:"groups"`
		}{}
		if err := yaml.Unmarshal([]byte(rules), &doc); err != nil {
			t.Fatal(err)
		}
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				for key, text := range r.Annotations {
					for _, p := range specPath.FindAllString(text, -1) {
						named++
						if !schemaHas(schema, strings.Split(p, ".")[1:]) {
							t.Errorf("alert %s, annotation %s, names %s, which the EtcdCluster CRD does not have", r.Alert, key, p)
						}
					}
				}
			}
		}
	}
	if named == 0 {
		t.Error("no alert text names a spec field: the test reads nothing")
	}
}
