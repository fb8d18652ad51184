package helm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"quorum.dev/etcd-operator/internal/version"
)

// uninstallLabel is the label README's manifest uninstall step selects by
// (config/rbac/kustomization.yaml, config/manager/manager.yaml).
const uninstallLabel = "app.kubernetes.io/part-of"

// releaseManifest writes the release manifest (hack/release-manifest.sh)
// into a new directory under the name README uses, and returns the
// directory and the manifest's objects.
func releaseManifest(t *testing.T) (string, []*unstructured.Unstructured) {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS must name the envtest binaries (make test sets it)")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "quorum-operator-"+version.Version+".yaml")
	cmd := exec.Command("bash", filepath.Join("..", "..", "hack", "release-manifest.sh"), out)
	cmd.Env = append(os.Environ(), "KUBECTL="+filepath.Join(assets, "kubectl"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release-manifest.sh: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(string(raw), "\n---") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("manifest YAML does not parse: %v\n%s", err, doc)
		}
		if u.GetKind() != "" {
			objs = append(objs, u)
		}
	}
	return dir, objs
}

// kept reports whether README's uninstall step must leave obj: the CRDs
// (deleting one deletes every object of its kind) and the Namespace (an
// EtcdCluster may live in it).
func kept(obj *unstructured.Unstructured) bool {
	return obj.GetKind() == "CustomResourceDefinition" || obj.GetKind() == "Namespace"
}

// The uninstall label is on every object of the release manifest but the
// CRDs and the Namespace, and on none of those.
func TestReleaseManifestUninstallLabel(t *testing.T) {
	_, objs := releaseManifest(t)
	removed := 0
	for _, o := range objs {
		has := o.GetLabels()[uninstallLabel] == "quorum-operator"
		switch {
		case kept(o) && has:
			t.Errorf("%s %s carries %s=quorum-operator: README's uninstall step would delete it", o.GetKind(), o.GetName(), uninstallLabel)
		case !kept(o) && !has:
			t.Errorf("%s %s lacks %s=quorum-operator: README's uninstall step would leave it", o.GetKind(), o.GetName(), uninstallLabel)
		case !kept(o):
			removed++
		}
	}
	if removed == 0 {
		t.Fatal("the manifest has nothing to uninstall")
	}
}

// runIn runs a README shell block in dir against s, with helm and kubectl
// on PATH, and returns its output and error.
func runIn(s *apiServer, dir, script string) (string, error) {
	cmd := exec.Command("bash", "-c", "set -euo pipefail\n"+script)
	cmd.Dir = dir
	cmd.Env = append(s.env(), "PATH="+filepath.Dir(os.Getenv("HELM"))+string(os.PathListSeparator)+s.assets+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// exists reports whether the API server has obj.
func exists(t *testing.T, s *apiServer, obj *unstructured.Unstructured) bool {
	t.Helper()
	args := []string{"get", strings.ToLower(obj.GetKind()) + "/" + obj.GetName()}
	if ns := obj.GetNamespace(); ns != "" {
		args = append(args, "-n", ns)
	}
	out, err := s.exec(filepath.Join(s.assets, "kubectl"), args...)
	if err != nil && !strings.Contains(out, "NotFound") {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return err == nil
}

// README's manifest uninstall step, run as README prints it on a real API
// server, removes every object of the manifest but the CRDs and the
// Namespace, and every EtcdCluster stays; its manifest-to-Helm step then
// installs the chart over what is left, where a plain helm install fails
// as README quotes.
func TestManifestUninstallAndMoveToHelm(t *testing.T) {
	s := startAPIServer(t)
	dir, objs := releaseManifest(t)
	if err := os.Symlink(filepath.Join(must(filepath.Abs(filepath.Join("..", ".."))), "charts"), filepath.Join(dir, "charts")); err != nil {
		t.Fatal(err)
	}
	manifest := "quorum-operator-" + version.Version + ".yaml"
	apply := func() {
		t.Helper()
		s.kubectl("apply", "--server-side", "-f", filepath.Join(dir, manifest))
	}
	apply()
	createEtcdCluster(t, s)
	s.kubectl("apply", "-n", namespace, "-f", filepath.Join("..", "..", "config", "samples", "etcd_v1alpha1_etcdcluster.yaml"))
	clustersStay := func() {
		t.Helper()
		etcdClusterExists(t, s)
		s.kubectl("get", "-n", namespace, "etcdcluster", "demo")
	}

	step := readmeStep(t, "<!-- manifest-uninstall-step -->")
	if !strings.Contains(step, manifest) {
		t.Fatalf("README's uninstall step does not name this release's manifest %s:\n%s", manifest, step)
	}
	for range 2 { // safe to repeat
		if out, err := runIn(s, dir, step); err != nil {
			t.Fatalf("%s\n%v\n%s", step, err, out)
		}
	}
	for _, o := range objs {
		if has := exists(t, s, o); has != kept(o) {
			t.Errorf("after README's uninstall step, %s %s exists: %v, want %v", o.GetKind(), o.GetName(), has, kept(o))
		}
	}
	clustersStay()

	// Back to a manifest install; helm install alone fails on ownership.
	apply()
	out, err := runIn(s, dir, "helm install quorum-operator charts/quorum-operator -n quorum-system")
	if err == nil {
		t.Fatalf("helm install over a manifest install succeeded: README's step is not needed:\n%s", out)
	}
	if want := `ServiceAccount "quorum-operator" in namespace "quorum-system" exists and cannot be imported into the current release: invalid ownership metadata`; !strings.Contains(out, want) {
		t.Errorf("helm install over a manifest install failed without %q (README quotes it):\n%s", want, out)
	}

	step = readmeStep(t, "<!-- manifest-to-helm-step -->")
	if out, err := runIn(s, dir, step); err != nil {
		t.Fatalf("%s\n%v\n%s", step, err, out)
	}
	checkCRDs(t, s, true)
	clustersStay()
	for _, o := range objs {
		if kept(o) {
			continue
		}
		if o.GetKind() == "Deployment" {
			if got := s.kubectl("get", "-n", namespace, "deployment", o.GetName(), "-o", "jsonpath={.metadata.labels.app\\.kubernetes\\.io/managed-by}"); got != "Helm" {
				t.Errorf("the operator's Deployment is not the chart's after README's step (managed-by %q)", got)
			}
		}
	}
	s.helm("status", release, "-n", namespace)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
