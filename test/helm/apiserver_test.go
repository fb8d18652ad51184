package helm

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// apiServer is a real kube-apiserver and etcd (envtest, from
// KUBEBUILDER_ASSETS) that the real helm and kubectl binaries talk to
// through a kubeconfig. It has no controllers and no nodes: Deployments never
// become ready, so nothing here uses helm's --wait.
type apiServer struct {
	t          *testing.T
	assets     string
	kubeconfig string
	helmHome   string
}

// startAPIServer starts the server for one test and stops it when the test
// ends.
func startAPIServer(t *testing.T) *apiServer {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS must name the envtest binaries (make test sets it)")
	}
	if os.Getenv("HELM") == "" {
		t.Fatal("HELM must name the helm binary (make test sets it)")
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	if _, err := env.Start(); err != nil {
		t.Fatalf("starting kube-apiserver and etcd: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stopping kube-apiserver and etcd: %v", err)
		}
	})
	user, err := env.AddUser(envtest.User{Name: "helm-test", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &apiServer{t: t, assets: assets, kubeconfig: filepath.Join(dir, "kubeconfig"), helmHome: filepath.Join(dir, "helm")}
	if err := os.WriteFile(s.kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// env is the environment of helm, kubectl and shell steps: this server's
// kubeconfig, helm's own directories in the test's, envtest's kubectl first
// on PATH.
func (s *apiServer) env() []string {
	return append(os.Environ(),
		"KUBECONFIG="+s.kubeconfig,
		"HELM_CACHE_HOME="+filepath.Join(s.helmHome, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(s.helmHome, "config"),
		"HELM_DATA_HOME="+filepath.Join(s.helmHome, "data"),
		"PATH="+s.assets+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
}

func (s *apiServer) exec(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = s.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// helm runs helm against this server and fails the test if it fails.
func (s *apiServer) helm(args ...string) string {
	s.t.Helper()
	out, err := s.exec(os.Getenv("HELM"), args...)
	if err != nil {
		s.t.Fatalf("helm %v: %v\n%s", args, err, out)
	}
	return out
}

// kubectl runs envtest's kubectl against this server and fails the test if
// it fails.
func (s *apiServer) kubectl(args ...string) string {
	s.t.Helper()
	out, err := s.exec(filepath.Join(s.assets, "kubectl"), args...)
	if err != nil {
		s.t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return out
}

// shell runs a bash script (set -euo pipefail) against this server.
func (s *apiServer) shell(script string) {
	s.t.Helper()
	if out, err := s.exec("bash", "-c", "set -euo pipefail\n"+script); err != nil {
		s.t.Fatalf("%s\n%v\n%s", script, err, out)
	}
}

// crd returns the served CRD, or nil if there is none.
func (s *apiServer) crd(name string) *unstructured.Unstructured {
	s.t.Helper()
	out, err := s.exec(filepath.Join(s.assets, "kubectl"), "get", "crd", name, "-o", "json")
	if err != nil {
		if strings.Contains(out, "NotFound") {
			return nil
		}
		s.t.Fatalf("kubectl get crd %s: %v\n%s", name, err, out)
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal([]byte(out), &u.Object); err != nil {
		s.t.Fatal(err)
	}
	return u
}

// specProperties lists the properties of spec in the schema of a CRD's
// first version.
func specProperties(t *testing.T, crd *unstructured.Unstructured) map[string]any {
	t.Helper()
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(versions) == 0 {
		t.Fatalf("CRD %s has no versions", crd.GetName())
	}
	props, ok, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema", "properties", "spec", "properties")
	if !ok {
		t.Fatalf("CRD %s has no spec properties", crd.GetName())
	}
	return props
}

// copyChart copies the chart to a temporary directory for a test to change.
func copyChart(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "quorum-operator")
	if err := os.CopyFS(dir, os.DirFS(chart)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// dropSpecProperty removes spec.properties.<prop> of the EtcdCluster CRD
// in file (a generated CRD or the chart's template of it: both keep
// controller-gen's layout, where spec's properties are indented 14 spaces),
// as an older release of the CRD that did not have the field yet.
func dropSpecProperty(t *testing.T, file, prop string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	var out []string
	inSpec, dropping, dropped := false, false, false
	deeper := regexp.MustCompile(`^ {15,}\S|^$`)
	for _, l := range lines {
		switch {
		case l == "          spec:":
			inSpec = true
		case strings.HasPrefix(l, "          ") && !strings.HasPrefix(l, "           "):
			inSpec = false // the next property of openAPIV3Schema (status)
		}
		if dropping && deeper.MatchString(l) {
			continue
		}
		dropping = false
		if inSpec && l == "              "+prop+":" {
			dropping, dropped = true, true
			continue
		}
		out = append(out, l)
	}
	if !dropped {
		t.Fatalf("%s has no spec property %s", file, prop)
	}
	if err := os.WriteFile(file, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}
