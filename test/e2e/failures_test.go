//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
)

// The failure digest: CI shows only the last lines of a run, where Ginkgo's
// summary names a failed spec's location but not its message. hack/e2e.sh
// prints this file after a failed run, so the cause is in those last lines.
var _ = ReportAfterSuite("failure digest", func(r Report) {
	path := os.Getenv("E2E_FAILURES_FILE")
	if path == "" {
		return
	}
	var b strings.Builder
	for _, s := range r.SpecReports {
		if !s.Failed() {
			continue
		}
		fmt.Fprintf(&b, "FAILED %s (%s)\n", s.FullText(), s.Failure.Location)
		fmt.Fprintf(&b, "  %s\n", digestLines(s.Failure.Message, 12, 400))
	}
	_ = os.WriteFile(path, []byte(b.String()), 0o644)
})

// digestLines keeps the first n non-blank lines of msg, each cut to width
// runes, joined by "\n  ".
func digestLines(msg string, n, width int) string {
	var out []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if r := []rune(l); len(r) > width {
			l = string(r[:width]) + "…"
		}
		out = append(out, l)
		if len(out) == n {
			break
		}
	}
	return strings.Join(out, "\n  ")
}
