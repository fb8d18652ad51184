package helm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// kustomizeDeployment renders config/default with the kubectl of the
// envtest assets (KUBEBUILDER_ASSETS, which `make test` sets) and returns
// the operator's Deployment.
func kustomizeDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS must name the envtest binaries (make test sets it)")
	}
	out, err := exec.Command(filepath.Join(assets, "kubectl"), "kustomize", filepath.Join("..", "..", "config", "default")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize config/default: %v\n%s", err, out)
	}
	for _, doc := range strings.Split(string(out), "\n---") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if u.GetKind() != "Deployment" {
			continue
		}
		d := &appsv1.Deployment{}
		if err := yaml.Unmarshal([]byte(doc), d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Fatal("config/default renders no Deployment")
	return nil
}

// Issue #16 item 3: both install paths run the same operator. The chart
// with its default values and `kubectl apply -k config/default` must give
// the operator container the same image, arguments, environment (the
// operator finds its own namespace in POD_NAMESPACE: without it a cluster's
// NetworkPolicy with allowedClients shut the operator out), ports, probes,
// resources and security settings, and the pod the same identity.
func TestKustomizeAndChartRunTheSameOperator(t *testing.T) {
	chartD := &appsv1.Deployment{}
	if err := yaml.Unmarshal(render(t)["Deployment/quorum-operator"], chartD); err != nil {
		t.Fatal(err)
	}
	kD := kustomizeDeployment(t)
	if kD.Namespace != chartD.Namespace || kD.Name != chartD.Name {
		t.Errorf("Deployment %s/%s (kustomize) vs %s/%s (chart)", kD.Namespace, kD.Name, chartD.Namespace, chartD.Name)
	}
	kp, cp := kD.Spec.Template.Spec, chartD.Spec.Template.Spec
	if d := cmp.Diff(cp.SecurityContext, kp.SecurityContext); d != "" {
		t.Errorf("pod securityContext differs (-chart +kustomize):\n%s", d)
	}
	if kp.ServiceAccountName != cp.ServiceAccountName {
		t.Errorf("serviceAccountName %q (kustomize) vs %q (chart)", kp.ServiceAccountName, cp.ServiceAccountName)
	}
	if len(kp.Containers) != 1 || len(cp.Containers) != 1 {
		t.Fatalf("containers: %d (kustomize), %d (chart)", len(kp.Containers), len(cp.Containers))
	}
	if d := cmp.Diff(cp.Containers[0], kp.Containers[0]); d != "" {
		t.Errorf("operator container differs (-chart +kustomize):\n%s", d)
	}
}

// Bad chart values are refused by values.schema.json (or the Deployment
// template) with a message naming the value, never rendered.
func TestChartRefusesBadValues(t *testing.T) {
	bin := os.Getenv("HELM")
	if bin == "" {
		t.Fatal("HELM must name the helm binary (make test sets it)")
	}
	for _, tc := range []struct{ set, want string }{
		{"logLevel=verbose", "/logLevel"},
		{"replicaCount=0", "/replicaCount"},
		{"watchNamespace=a", "additional properties 'watchNamespace' not allowed"},
		{"metrics.port=70000", "/metrics/port"},
		{"image.pullPolicy=Sometimes", "/image/pullPolicy"},
		{"watchNamespaces={Bad_NS}", "/watchNamespaces/0"},
		{"replicaCount=2,leaderElection.enabled=false", "replicaCount > 1 needs leaderElection.enabled=true"},
		{"metrics.secure=maybe", "/metrics/secure"},
		{"metrics.serviceMonitor.interval=often", "/metrics/serviceMonitor/interval"},
		{"prometheusRules.enabled=true", "additional properties 'prometheusRules' not allowed"},
		{"grafanaDashboard.enable=true", "additional properties 'enable' not allowed"},
		{"crds.enabled=maybe", "/crds/enabled"},
		// No crds.keep: uninstalling must never delete the CRDs.
		{"crds.keep=false", "additional properties 'keep' not allowed"},
	} {
		out, err := exec.Command(bin, "template", "quorum-operator", chart, "--set", tc.set).CombinedOutput()
		if err == nil {
			t.Errorf("--set %s rendered without an error", tc.set)
			continue
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("--set %s: the error does not name %q:\n%s", tc.set, tc.want, out)
		}
	}
	// The good neighbours render.
	for _, set := range []string{"logLevel=debug", "logLevel=3", "replicaCount=2", "watchNamespaces={team-a,team-b}",
		"metrics.serviceMonitor.interval=30s", "prometheusRule.enabled=true", "grafanaDashboard.labels.x=y", "crds.enabled=false"} {
		if out, err := exec.Command(bin, "template", "quorum-operator", chart, "--set", set).CombinedOutput(); err != nil {
			t.Errorf("--set %s refused: %v\n%s", set, err, out)
		}
	}
}
