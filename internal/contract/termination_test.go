package contract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteTerminationMessage(t *testing.T) {
	dir := t.TempDir()
	absent := filepath.Join(dir, "absent")
	if err := WriteTerminationMessage(absent, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(absent); !os.IsNotExist(err) {
		t.Fatalf("the termination log was created: %v", err)
	}
	path := filepath.Join(dir, "log")
	if err := os.WriteFile(path, []byte("an older, longer message"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteTerminationMessage(path, "short"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "short" {
		t.Errorf("log = %q, want the old content replaced", b)
	}
	if err := WriteTerminationMessage(path, strings.Repeat("a", 2*MaxTerminationMessage)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); len(b) != MaxTerminationMessage || !strings.HasSuffix(string(b), "...") {
		t.Errorf("long message kept as %d bytes, want %d ending in ...", len(b), MaxTerminationMessage)
	}
}

func TestTerminationLogPath(t *testing.T) {
	none := func(string) (string, bool) { return "", false }
	if got := TerminationLogPath(none); got != DefaultTerminationLog {
		t.Errorf("default = %q", got)
	}
	set := func(k string) (string, bool) { return " /tmp/x ", k == EnvTerminationLog }
	if got := TerminationLogPath(set); got != "/tmp/x" {
		t.Errorf("override = %q", got)
	}
}

func TestReadReport(t *testing.T) {
	var r VerifyReport
	if err := ReadReport("some log line\n{\"verified\":true,\"revision\":7}\n", &r); err != nil || !r.Verified || r.Revision != 7 {
		t.Errorf("ReadReport = %+v, %v", r, err)
	}
	for _, bad := range []string{"", "\n", "backup failed: boom"} {
		if err := ReadReport(bad, &r); err == nil {
			t.Errorf("ReadReport(%q) = nil error", bad)
		}
	}
}
