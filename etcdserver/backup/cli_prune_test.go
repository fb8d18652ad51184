package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrune(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(rel string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(rel), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(rel string) bool {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
		return err == nil
	}
	for _, f := range []string{"ns/db/a.db", "ns/db/a.db" + ManifestSuffix, "ns/db/b.db", "ns/db/b.db" + ManifestSuffix,
		"ns/db/c.db" + ManifestSuffix, "ns/db/keep.db", "ns/db/keep.db" + ManifestSuffix} {
		write(f)
	}
	log := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(log, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvTerminationLog: log}

	// Repeated and comma-separated keys; c.db has only its manifest left
	// (an interrupted prune).
	code, out, errOut := runCLI(t, PruneMain, env, "--dir", dir, "--key", "ns/db/a.db,ns/db/b.db", "--key", "ns/db/c.db")
	if code != ExitOK {
		t.Fatalf("prune: exit %d, %s", code, errOut)
	}
	want := `{"removed":["ns/db/a.db","ns/db/b.db","ns/db/c.db"]}`
	if got := lastLine(out); got != want {
		t.Fatalf("result %s, want %s", got, want)
	}
	if b, _ := os.ReadFile(log); string(b) != want {
		t.Fatalf("termination log %q", b)
	}
	for _, f := range []string{"a.db", "b.db", "c.db"} {
		if exists("ns/db/"+f) || exists("ns/db/"+f+ManifestSuffix) {
			t.Errorf("%s or its manifest is left", f)
		}
	}
	if !exists("ns/db/keep.db") || !exists("ns/db/keep.db"+ManifestSuffix) {
		t.Error("another backup was removed")
	}

	// Again, with the directory from the environment: nothing left to
	// remove is not an error.
	env["QUORUM_BACKUP_DIR"] = dir
	if code, out, errOut = runCLI(t, PruneMain, env, "--key", "ns/db/a.db"); code != ExitOK || lastLine(out) != `{"removed":["ns/db/a.db"]}` {
		t.Fatalf("repeated prune: exit %d, %s%s", code, out, errOut)
	}
}

// The manifest goes first: when the snapshot cannot be removed, its
// manifest is gone already, so the backup reads as incomplete.
func TestPruneManifestFirst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k.db"+ManifestSuffix), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A non-empty directory in place of the snapshot cannot be removed.
	if err := os.MkdirAll(filepath.Join(dir, "k.db", "x"), 0o750); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, PruneMain, nil, "--dir", dir, "--key", "k.db")
	if code != ExitFailure || !strings.Contains(errOut, "is a directory") {
		t.Fatalf("exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "k.db"+ManifestSuffix)); !os.IsNotExist(err) {
		t.Fatalf("manifest left behind: %v", err)
	}
}

func TestPruneUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outside := filepath.Join(filepath.Dir(dir), "x")
	if err := os.WriteFile(outside, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-h"}, ExitOK, ""},
		{"no dir", []string{"--key", "k"}, ExitUsage, "no destination: give --s3-endpoint and --bucket, or --dir"},
		{"no key", []string{"--dir", dir}, ExitUsage, "give --key"},
		{"path escape", []string{"--dir", dir, "--key", "../x"}, ExitUsage, "object key"},
		{"absolute key", []string{"--dir", dir, "--key", "/x"}, ExitUsage, "must not start with /"},
		{"manifest as key", []string{"--dir", dir, "--key", "k" + ManifestSuffix}, ExitUsage, "names the manifest"},
		{"one bad key of two", []string{"--dir", dir, "--key", "k.db,a/../../x"}, ExitUsage, "object key"},
		{"missing dir", []string{"--dir", filepath.Join(dir, "absent"), "--key", "k"}, ExitFailure, "backup directory"},
		{"arguments", []string{"--dir", dir, "--key", "k", "extra"}, ExitUsage, "unexpected arguments"},
	} {
		code, _, errOut := runCLI(t, PruneMain, nil, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, errOut, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatalf("the file outside the directory is gone: %v", err)
	}
}
