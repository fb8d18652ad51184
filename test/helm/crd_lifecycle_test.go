package helm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The release name and namespace README's commands use.
const (
	release   = "quorum-operator"
	namespace = "quorum-system"
	// A field of EtcdCluster's spec that an "older" chart lacks here.
	newField = "monitoring"
)

var crdNames = []string{
	"etcdbackups.etcd.quorum.dev", "etcdbackupschedules.etcd.quorum.dev", "etcdclusters.etcd.quorum.dev",
	"etcdrestores.etcd.quorum.dev", "etcdusers.etcd.quorum.dev",
}

// checkCRDs checks that every CRD is served, owned by the release, and kept
// on uninstall; and whether EtcdCluster's spec has newField.
func checkCRDs(t *testing.T, s *apiServer, wantField bool) {
	t.Helper()
	for _, name := range crdNames {
		crd := s.crd(name)
		if crd == nil {
			t.Fatalf("CRD %s is gone", name)
		}
		ann, lbl := crd.GetAnnotations(), crd.GetLabels()
		if ann["helm.sh/resource-policy"] != "keep" || ann["meta.helm.sh/release-name"] != release ||
			ann["meta.helm.sh/release-namespace"] != namespace || lbl["app.kubernetes.io/managed-by"] != "Helm" {
			t.Errorf("CRD %s is not owned by release %s/%s with the keep policy: labels %v, annotations %v",
				name, namespace, release, lbl, ann)
		}
		if name != "etcdclusters.etcd.quorum.dev" {
			continue
		}
		if _, has := specProperties(t, crd)[newField]; has != wantField {
			t.Errorf("served EtcdCluster CRD has spec.%s: %v, want %v", newField, has, wantField)
		}
	}
}

// An EtcdCluster (config/samples) as the data that must outlive the release.
func createEtcdCluster(t *testing.T, s *apiServer) {
	t.Helper()
	s.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/etcdclusters.etcd.quorum.dev")
	s.kubectl("apply", "-n", "default", "-f", filepath.Join("..", "..", "config", "samples", "etcd_v1alpha1_etcdcluster.yaml"))
}

func etcdClusterExists(t *testing.T, s *apiServer) {
	t.Helper()
	s.kubectl("get", "-n", "default", "etcdcluster", "demo")
}

// Issue #16 item 3: `helm upgrade` upgrades the CRDs, and neither `helm
// uninstall` nor crds.enabled=false deletes them (deleting a CRD deletes
// every EtcdCluster). On a real kube-apiserver with the real helm: install a
// chart whose EtcdCluster CRD lacks a field, upgrade to this chart, and the
// served CRD has the field.
func TestHelmUpgradeUpgradesCRDsAndUninstallKeepsThem(t *testing.T) {
	s := startAPIServer(t)
	old := copyChart(t)
	dropSpecProperty(t, filepath.Join(old, "templates", "crds", "etcd.quorum.dev_etcdclusters.yaml"), newField)

	s.helm("install", release, old, "-n", namespace, "--create-namespace")
	checkCRDs(t, s, false)

	s.helm("upgrade", release, chart, "-n", namespace)
	checkCRDs(t, s, true)

	createEtcdCluster(t, s)
	out := s.helm("uninstall", release, "-n", namespace)
	if !strings.Contains(out, "kept due to the resource policy") {
		t.Errorf("helm uninstall does not say it kept the CRDs:\n%s", out)
	}
	checkCRDs(t, s, true)
	etcdClusterExists(t, s)

	// The kept CRDs still name the release: installing it again under the
	// same name and namespace takes them back without any step.
	s.helm("install", release, chart, "-n", namespace)
	checkCRDs(t, s, true)

	// Handing the CRDs to someone else drops them from the release, not
	// from the cluster.
	s.helm("upgrade", release, chart, "-n", namespace, "--set", "crds.enabled=false")
	for _, name := range crdNames {
		if s.crd(name) == nil {
			t.Errorf("crds.enabled=false deleted CRD %s", name)
		}
	}
	etcdClusterExists(t, s)
}

// readmeAdoptionStep returns the shell block README gives for adopting CRDs
// that an older chart installed from crds/.
func readmeAdoptionStep(t *testing.T) string {
	t.Helper()
	return readmeStep(t, "<!-- crd-adoption-step -->")
}

// readmeStep returns the first ```sh block after README's marker line, as
// README prints it.
func readmeStep(t *testing.T, marker string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(raw), marker)
	if !ok {
		t.Fatalf("README has no %s", marker)
	}
	_, block, ok := strings.Cut(after, "```sh\n")
	if !ok {
		t.Fatalf("README has no ```sh block after %s", marker)
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		t.Fatalf("README's block after %s is not closed", marker)
	}
	return block
}

// An install made by a chart that kept the CRDs in crds/ (Helm created
// them without its ownership metadata): `helm upgrade` to this chart fails
// with Helm's ownership message, README's one-time step (run here as
// README prints it) adopts them, and the upgrade then upgrades the CRDs,
// which uninstall keeps.
func TestHelmUpgradeAdoptsCRDsFromCrdsDirectory(t *testing.T) {
	s := startAPIServer(t)
	legacy := copyChart(t)
	if err := os.RemoveAll(filepath.Join(legacy, "templates", "crds")); err != nil {
		t.Fatal(err)
	}
	bases, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) != len(crdNames) {
		t.Fatalf("generated CRDs %v (%v), want %d", bases, err, len(crdNames))
	}
	if err := os.MkdirAll(filepath.Join(legacy, "crds"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range bases {
		raw, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(legacy, "crds", filepath.Base(b)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dropSpecProperty(t, filepath.Join(legacy, "crds", "etcd.quorum.dev_etcdclusters.yaml"), newField)

	s.helm("install", release, legacy, "-n", namespace, "--create-namespace")
	crd := s.crd("etcdclusters.etcd.quorum.dev")
	if crd == nil {
		t.Fatal("the crds/ chart installed no EtcdCluster CRD")
	}
	if _, has := crd.GetLabels()["app.kubernetes.io/managed-by"]; has {
		t.Fatalf("a CRD from crds/ has Helm's label %v: not the state this test is about", crd.GetLabels())
	}
	if _, has := specProperties(t, crd)[newField]; has {
		t.Fatalf("the older CRD has spec.%s", newField)
	}
	createEtcdCluster(t, s)

	out, err := s.exec(os.Getenv("HELM"), "upgrade", release, chart, "-n", namespace)
	if err == nil {
		t.Fatalf("helm upgrade adopted CRDs without Helm's ownership metadata:\n%s", out)
	}
	// README quotes this message.
	for _, want := range []string{"exists and cannot be imported into the current release: invalid ownership metadata",
		`missing key "app.kubernetes.io/managed-by": must be set to "Helm"`} {
		if !strings.Contains(out, want) {
			t.Errorf("helm upgrade failed without %q:\n%s", want, out)
		}
	}

	step := readmeAdoptionStep(t)
	s.shell(step)
	s.shell(step) // the step is safe to repeat
	s.helm("upgrade", release, chart, "-n", namespace)
	checkCRDs(t, s, true)
	etcdClusterExists(t, s)

	s.helm("uninstall", release, "-n", namespace)
	checkCRDs(t, s, true)
	etcdClusterExists(t, s)
}
