package helm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// pinnedKubeVersion returns the version hack/versions.sh pins for name
// (K8S_VERSION or K8S_MIN_VERSION) and its minor: "v1.31.14", 31.
func pinnedKubeVersion(t *testing.T, name string) (string, int) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "hack", "versions.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + name + `=\$\{` + name + `:-(v1\.([0-9]+)\.[0-9]+)\}$`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatalf("hack/versions.sh pins no %s=${%s:-v1.N.P}", name, name)
	}
	minor, err := strconv.Atoi(m[2])
	if err != nil {
		t.Fatal(err)
	}
	return m[1], minor
}

// templateFor renders the chart as for a cluster at kubeVersion (helm's
// own default when "") and returns helm's error output, or "" when it
// rendered.
func templateFor(t *testing.T, kubeVersion string) string {
	t.Helper()
	args := []string{"template", "quorum-operator", chart, "--namespace", "quorum-system"}
	if kubeVersion != "" {
		args = append(args, "--kube-version", kubeVersion)
	}
	out, err := exec.Command(os.Getenv("HELM"), args...).CombinedOutput()
	if err == nil {
		return ""
	}
	return fmt.Sprintf("%v: %s", err, out)
}

// The chart's kubeVersion admits exactly the supported range's lower end:
// the oldest supported Kubernetes (K8S_MIN_VERSION, which `make
// test-k8s-min` tests) and the pinned one (K8S_VERSION) install, a
// provider's pre-release style version of the oldest minor too, and the
// minor before it is refused with helm's message. helm without a cluster
// (`helm template`, the other chart tests) assumes a supported version:
// hack/build-k8s.sh links in its client-go's, as helm's release builds do.
// README states the same range.
func TestChartKubeVersionIsTheSupportedRange(t *testing.T) {
	if os.Getenv("HELM") == "" {
		t.Fatal("HELM must name the helm binary (make test sets it)")
	}
	minVersion, minMinor := pinnedKubeVersion(t, "K8S_MIN_VERSION")
	maxVersion, maxMinor := pinnedKubeVersion(t, "K8S_VERSION")
	for _, v := range []string{minVersion, fmt.Sprintf("v1.%d.0", minMinor), fmt.Sprintf("v1.%d.4-eks-1a2b3c4", minMinor), maxVersion} {
		if msg := templateFor(t, v); msg != "" {
			t.Errorf("the chart refuses Kubernetes %s, which is supported: %s", v, msg)
		}
	}
	if msg := templateFor(t, ""); msg != "" {
		t.Errorf("helm template without --kube-version refuses the chart (a helm built without hack/build-k8s.sh's Kubernetes version?): %s", msg)
	}
	below := fmt.Sprintf("v1.%d.99", minMinor-1)
	if msg := templateFor(t, below); !strings.Contains(msg, "incompatible with Kubernetes "+below) {
		t.Errorf("the chart must refuse Kubernetes %s (older than %s) with helm's kubeVersion message, got %q", below, minVersion, msg)
	}

	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Kubernetes 1.%d to 1.%d", minMinor, maxMinor); !strings.Contains(string(raw), want) {
		t.Errorf("README does not state the supported range %q", want)
	}
}
