//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("README", func() {
	It("runs the local backup and restore walkthrough exactly as written", func(ctx SpecContext) {
		if os.Getenv("E2E_USE_EXISTING_CLUSTER") == "1" {
			Skip("the walkthrough is written for the local cluster (hack/cluster.sh), not $KUBECONFIG's")
		}
		cmd := exec.CommandContext(ctx, "hack/readme-check.sh", "local-backup")
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		GinkgoWriter.Printf("%s\n", out)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		Expect(err).NotTo(HaveOccurred(), "the README walkthrough failed; its last lines:\n%s", strings.Join(lines[max(0, len(lines)-25):], "\n"))
		Expect(string(out)).To(ContainSubstring("walkthrough passed"))
	}, SpecTimeout(15*time.Minute))
})
