package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quorum.dev/etcd-operator/etcdserver/configkeys"
)

// The CRD must refuse at admission every option the bundled server would
// refuse at start, or a bad spec becomes a crash-looping pod.
func TestCRDRefusesEveryKeyTheServerControls(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "etcd.quorum.dev_etcdclusters.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := string(raw)
	i := strings.Index(crd, "self.all(k, !(k in [")
	if i < 0 {
		t.Fatal("no etcdOptions rule in the CRD")
	}
	rule := crd[i : i+strings.Index(crd[i:], "]")]
	for _, k := range append(configkeys.All(), "quota-backend-bytes", "auto-compaction-mode", "auto-compaction-retention") {
		if !strings.Contains(rule, "'"+k+"'") {
			t.Errorf("CRD etcdOptions rule does not refuse %q", k)
		}
	}
}
