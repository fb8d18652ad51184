package helm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"quorum.dev/etcd-operator/internal/version"
)

// The versioned install manifest (hack/release-manifest.sh) installs on a
// real API server with `kubectl apply --server-side`, as the README tells
// users, runs the operator image of this release, and applying it again
// (an upgrade to the same release) changes nothing that fails.
func TestReleaseManifestInstalls(t *testing.T) {
	s := startAPIServer(t)
	out := filepath.Join(t.TempDir(), "quorum-operator-"+version.Version+".yaml")
	cmd := exec.Command("bash", filepath.Join("..", "..", "hack", "release-manifest.sh"), out)
	cmd.Env = append(os.Environ(), "KUBECTL="+filepath.Join(s.assets, "kubectl"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release-manifest.sh: %v\n%s", err, b)
	}
	manifest, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(out); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o644 {
		t.Errorf("the manifest's mode is %v, want 0644: it is a release asset", fi.Mode().Perm())
	}
	if !strings.Contains(string(manifest), "# Quorum "+version.Version+" install manifest") {
		t.Errorf("the manifest does not name release %s", version.Version)
	}
	for range 2 {
		s.kubectl("apply", "--server-side", "-f", out)
	}
	for _, crd := range []string{"etcdclusters", "etcdbackups", "etcdbackupschedules", "etcdrestores", "etcdusers"} {
		if s.crd(crd+".etcd.quorum.dev") == nil {
			t.Errorf("CRD %s not served", crd)
		}
	}
	img := s.kubectl("get", "deployment", "-n", "quorum-system", "-o", "jsonpath={.items[0].spec.template.spec.containers[0].image}")
	if want := "quorum.dev/etcd-operator:" + version.Version; img != want {
		t.Errorf("operator image %q, want %q", img, want)
	}
}

// config/manager names the operator image of this release, so
// `kubectl apply -k config/default` at a release's commit runs that release.
func TestKustomizeImageIsTheRelease(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "manager", "manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "image: quorum.dev/etcd-operator:"+version.Version+"\n") {
		t.Errorf("config/manager/manager.yaml does not run quorum.dev/etcd-operator:%s", version.Version)
	}
}
