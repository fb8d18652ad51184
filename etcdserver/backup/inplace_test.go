package backup

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quorum.dev/etcd-operator/etcdserver/server"
)

// TestInPlaceRestore covers what an in-place restore of a running
// cluster's members relies on: --verify-only reads the whole backup and
// writes nothing; --only-active-restore does nothing unless the restore
// is the active one; --force with --restore-id replaces a member's data
// dir once, keeping the old one aside, and a second run is a no-op.
func TestInPlaceRestore(t *testing.T) {
	t.Parallel()
	f := &s3Fixture{keys: 20}
	f.src = memberSettings(t, "src", "")
	f.rev = fill(t, startMember(t, f.src), f.keys)
	dir := t.TempDir()
	env := map[string]string{
		"QUORUM_ENDPOINTS":  f.src.AdvertiseClientURL.String(),
		"QUORUM_BACKUP_DIR": dir,
		"QUORUM_BACKUP_KEY": "c/snap.db",
		EnvTerminationLog:   writeTestFile(t, "termination-log", nil),
	}
	if code, _, errOut := runCLI(t, BackupMain, env); code != ExitOK {
		t.Fatalf("backup exited %d: %s", code, errOut)
	}

	code, out, errOut := runCLI(t, RestoreMain, env, "--verify-only")
	if code != ExitOK {
		t.Fatalf("verify exited %d: %s", code, errOut)
	}
	var v VerifyResult
	if err := json.Unmarshal([]byte(lastLine(out)), &v); err != nil || !v.Verified || v.Revision != f.rev || v.SHA256 == "" {
		t.Fatalf("verify result %q: %v", out, err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "c")); len(entries) != 2 {
		t.Errorf("verify wrote into the backup dir: %v", entries)
	}

	// A member whose data dir holds another cluster's member.
	s := memberSettings(t, "m0", "")
	old := s
	old.ClusterToken = "the-old-cluster"
	f.restore(t, env, old, "--bump-revision", "0")
	parent := filepath.Dir(s.DataDir)
	kept := filepath.Join(parent, "data.before-restore")
	args := restoreArgs(s, "--force", "--restore-id", "r1", "--keep-replaced", kept, "--only-active-restore")

	// Not the active restore: nothing happens.
	env[EnvActiveRestoreID] = "r0"
	code, out, errOut = runCLI(t, RestoreMain, env, args...)
	if code != ExitOK || !strings.Contains(out, `"restored":false`) {
		t.Fatalf("inactive restore: exit %d, %s %s", code, out, errOut)
	}
	if _, err := os.Stat(kept); !os.IsNotExist(err) {
		t.Fatalf("inactive restore touched the data dir: %v", err)
	}

	env[EnvActiveRestoreID] = "r1"
	// The object is no longer the snapshot that was verified: refused,
	// the data dir untouched.
	other := strings.Repeat("0", 64)
	code, _, errOut = runCLI(t, RestoreMain, env, append(args, "--expect-sha256", other)...)
	if code == ExitOK || !strings.Contains(errOut, "not the one that was verified") || !strings.Contains(errOut, "verified "+other) {
		t.Fatalf("a snapshot other than the verified one: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(kept); !os.IsNotExist(err) {
		t.Fatalf("the refused restore touched the data dir: %v", err)
	}
	args = append(args, "--expect-sha256", v.SHA256)
	code, out, errOut = runCLI(t, RestoreMain, env, args...)
	if code != ExitOK || !strings.Contains(out, `"restored":true`) {
		t.Fatalf("restore: exit %d, %s %s", code, out, errOut)
	}
	if !server.MemberInitialized(kept) {
		t.Errorf("the replaced data dir was not kept at %s", kept)
	}
	f.checkRestored(t, s, DefaultBumpRevision)

	// The init container runs again after a pod restart: no-op, even with
	// --force, and the kept copy is still the original member.
	code, out, errOut = runCLI(t, RestoreMain, env, args...)
	if code != ExitOK || !strings.Contains(out, `"restored":false`) {
		t.Fatalf("second run: exit %d, %s %s", code, out, errOut)
	}
	if mk, err := readMarker(kept); err != nil || mk.RestoreID != "" {
		t.Errorf("the kept data dir is not the original member: marker %+v, %v", mk, err)
	}

	// The restore failed elsewhere: --undo puts the kept member back,
	// once; a second run changes nothing.
	undo := []string{"--undo", "--data-dir", s.DataDir, "--name", s.Name, "--restore-id", "r1", "--keep-replaced", kept}
	code, out, errOut = runCLI(t, RestoreMain, env, undo...)
	if code != ExitOK || !strings.Contains(out, `"undone":true`) {
		t.Fatalf("undo: exit %d, %s %s", code, out, errOut)
	}
	if mk, err := readMarker(s.DataDir); err != nil || mk.RestoreID != "" || !server.MemberInitialized(s.DataDir) {
		t.Errorf("the data dir is not the original member after undo: marker %+v, %v", mk, err)
	}
	if _, err := os.Stat(kept); !os.IsNotExist(err) {
		t.Errorf("the kept data dir is still there after undo: %v", err)
	}
	code, out, errOut = runCLI(t, RestoreMain, env, undo...)
	if code != ExitOK || !strings.Contains(out, `"undone":false`) {
		t.Fatalf("second undo: exit %d, %s %s", code, out, errOut)
	}
	if mk, err := readMarker(s.DataDir); err != nil || mk.RestoreID != "" {
		t.Errorf("the second undo changed the data dir: marker %+v, %v", mk, err)
	}
	// An undo of another restore ID leaves the data dir alone.
	code, out, errOut = runCLI(t, RestoreMain, env, "--undo", "--data-dir", s.DataDir, "--name", s.Name, "--restore-id", "r0", "--keep-replaced", kept)
	if code != ExitOK || !strings.Contains(out, `"undone":false`) {
		t.Fatalf("undo of another ID: exit %d, %s %s", code, out, errOut)
	}

	// A corrupt object fails verification and leaves everything alone.
	obj := filepath.Join(dir, "c", "snap.db")
	b, _ := os.ReadFile(obj)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(obj, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, RestoreMain, env, "--verify-only")
	if code != ExitFailure || !strings.Contains(errOut, "corrupt") {
		t.Fatalf("verify of a corrupt backup: exit %d, %s", code, errOut)
	}
}
