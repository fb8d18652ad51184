package helm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// prometheusOperatorCRDs stands for the Prometheus Operator's CRDs: the two
// kinds the chart makes, served as monitoring.coreos.com/v1 with an open
// schema (the real ones' schemas do not matter to the chart's gate).
const prometheusOperatorCRDs = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: prometheusrules.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: {kind: PrometheusRule, listKind: PrometheusRuleList, plural: prometheusrules, singular: prometheusrule}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// On a real API server without the Prometheus Operator's CRDs,
// prometheusRule.enabled=true and metrics.serviceMonitor.enabled=true do
// not fail `helm install` (they did: "resource mapping not found"): the
// objects are left out and NOTES.txt says so. Once the CRDs are served,
// `helm upgrade` with the same values installs them and the warning goes.
func TestMonitoringWithoutPrometheusOperatorCRDs(t *testing.T) {
	s := startAPIServer(t)
	on := []string{"--set", "prometheusRule.enabled=true", "--set", "metrics.serviceMonitor.enabled=true"}
	warnings := []string{
		"WARNING: prometheusRule.enabled is true but the cluster has no\nmonitoring.coreos.com/v1 PrometheusRule: not installed",
		"WARNING: metrics.serviceMonitor.enabled is true but the cluster has no\nmonitoring.coreos.com/v1 ServiceMonitor: not installed",
	}

	out := s.helm(append([]string{"install", release, chart, "-n", namespace, "--create-namespace"}, on...)...)
	for _, w := range warnings {
		if !strings.Contains(out, w) {
			t.Errorf("helm install without the CRDs does not say %q:\n%s", w, out)
		}
	}
	manifest := s.helm("get", "manifest", release, "-n", namespace)
	for _, kind := range []string{"kind: PrometheusRule", "kind: ServiceMonitor"} {
		if strings.Contains(manifest, kind) {
			t.Errorf("the release has a %s without its CRD", kind)
		}
	}

	crds := filepath.Join(t.TempDir(), "prometheus-operator-crds.yaml")
	if err := os.WriteFile(crds, []byte(prometheusOperatorCRDs), 0o644); err != nil {
		t.Fatal(err)
	}
	s.kubectl("apply", "-f", crds)
	s.kubectl("wait", "--for=condition=Established", "--timeout=60s",
		"crd/prometheusrules.monitoring.coreos.com", "crd/servicemonitors.monitoring.coreos.com")

	out = s.helm(append([]string{"upgrade", release, chart, "-n", namespace}, on...)...)
	if strings.Contains(out, "WARNING:") {
		t.Errorf("helm upgrade with the CRDs still warns:\n%s", out)
	}
	s.kubectl("get", "-n", namespace, "prometheusrule/"+release, "servicemonitor/"+release)
}
