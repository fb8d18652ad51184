package backup

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quorum.dev/etcd-operator/etcdserver/server"
)

// TestDir backs up to a directory and restores from it, configured through
// the environment only (as the operator's pods are), without TLS and
// without a revision bump.
func TestDir(t *testing.T) {
	t.Parallel()
	f := &s3Fixture{keys: 50}
	f.src = memberSettings(t, "src", "")
	f.rev = fill(t, startMember(t, f.src), f.keys)
	dir := t.TempDir()
	termLog := writeTestFile(t, "termination-log", nil)

	env := map[string]string{
		"QUORUM_ENDPOINTS":     f.src.AdvertiseClientURL.String(),
		"QUORUM_BACKUP_DIR":    dir,
		"QUORUM_BACKUP_KEY":    "cluster-a/2026/snap.db",
		"QUORUM_COMPRESS":      "none",
		EnvTerminationLog:      termLog,
		"QUORUM_DATA_DIR":      "/must/be/overridden/by/the/flag",
		"QUORUM_BUMP_REVISION": "0",
	}
	code, out, errOut := runCLI(t, BackupMain, env)
	if code != ExitOK {
		t.Fatalf("backup exited %d: %s", code, errOut)
	}
	m, err := ParseManifest([]byte(lastLine(out)))
	if err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, "cluster-a", "2026", "snap.db")
	if fi, err := os.Stat(obj); err != nil || fi.Size() != m.Size || m.StoredSize != m.Size {
		t.Fatalf("backup file %s: %v, %v; manifest %+v", obj, fi, err, m)
	}
	if b, _ := os.ReadFile(obj + ManifestSuffix); string(b) != lastLine(out) {
		t.Errorf("manifest file %q, stdout %q", b, lastLine(out))
	}
	if b, _ := os.ReadFile(termLog); string(b) != lastLine(out) {
		t.Errorf("termination log %q", b)
	}
	if m.Location != "file://"+obj || m.Compression != CompressionNone || m.EtcdRevision != f.rev {
		t.Errorf("manifest %+v", m)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "cluster-a", "2026", ".*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	// Restore from the pod environment: name, initial cluster, token and
	// data dir as the etcd container gets them.
	s := memberSettings(t, "restored", "")
	env[server.EnvPodName] = s.Name
	env[server.EnvInitialCluster] = server.FormatInitialCluster(s.InitialCluster)
	env[server.EnvClusterToken] = s.ClusterToken
	code, out, errOut = runCLI(t, RestoreMain, env, "--data-dir", s.DataDir)
	if code != ExitOK {
		t.Fatalf("restore exited %d: %s", code, errOut)
	}
	var res RestoreResult
	if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Restored || res.BumpRevision != 0 || res.MarkCompacted || res.Revision != f.rev || res.Location != "file://"+obj {
		t.Errorf("result %+v", res)
	}
	f.checkRestored(t, s, 0)

	// A local manifest file instead of the stored one.
	manifest := writeTestFile(t, "m.json", m.MarshalLine())
	s2 := memberSettings(t, "restored2", "")
	if err := os.Remove(obj + ManifestSuffix); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, RestoreMain, env, restoreArgs(s2, "--manifest-file", manifest, "--bump-revision", "1_000")...)
	if code != ExitOK {
		t.Fatalf("restore with --manifest-file exited %d: %s", code, errOut)
	}
}

// TestBackupWithPassword backs up a cluster with authentication on, as
// root with a password file.
func TestBackupWithPassword(t *testing.T) {
	t.Parallel()
	src := memberSettings(t, "auth", "")
	cli := startMember(t, src)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	fill(t, cli, 10)
	if _, err := cli.UserAdd(ctx, "root", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UserAdd(ctx, "bob", "bobpw"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"QUORUM_ENDPOINTS": src.AdvertiseClientURL.String(), "QUORUM_BACKUP_DIR": t.TempDir()}

	code, _, errOut := runCLI(t, BackupMain, env, "--key", "anon.db")
	if code != ExitFailure || !strings.Contains(errOut, "etcd refused the client's credentials") {
		t.Fatalf("backup without credentials: exit %d, %s", code, errOut)
	}
	t.Logf("refused as expected: %s", errorLine(errOut))

	env["QUORUM_ETCD_USER"] = "bob"
	env["QUORUM_ETCD_PASSWORD_FILE"] = writeTestFile(t, "bob", []byte("bobpw"))
	code, _, errOut = runCLI(t, BackupMain, env, "--key", "bob.db")
	if code != ExitFailure || !strings.Contains(errOut, "permission denied") {
		t.Fatalf("backup as a user without the root role: exit %d, %s", code, errOut)
	}
	t.Logf("refused as expected: %s", errorLine(errOut))

	env["QUORUM_ETCD_USER"] = "root"
	env["QUORUM_ETCD_PASSWORD_FILE"] = writeTestFile(t, "password", []byte("s3cret\n"))
	code, _, errOut = runCLI(t, BackupMain, env, "--key", "root.db")
	if code != ExitOK {
		t.Fatalf("backup as root: exit %d, %s", code, errOut)
	}
}

func TestCLIUsage(t *testing.T) {
	t.Parallel()
	base := []string{"--endpoints", "http://127.0.0.1:1", "--key", "k"}
	member := []string{"--name", "a", "--initial-cluster", "a=http://127.0.0.1:2380", "--initial-cluster-token", "t", "--key", "k"}
	tests := []struct {
		name string
		main func(context.Context, []string, IO) int
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"help", BackupMain, nil, []string{"-h"}, ExitOK, ""},
		{"restore help", RestoreMain, nil, []string{"--help"}, ExitOK, ""},
		{"unknown flag", BackupMain, nil, []string{"--nope"}, ExitUsage, "flag provided but not defined"},
		{"arguments", BackupMain, nil, append(base, "extra"), ExitUsage, "unexpected arguments"},
		{"no destination", BackupMain, nil, base, ExitUsage, "no destination"},
		{"both destinations", BackupMain, nil, append(base, "--dir", "/tmp", "--bucket", "b"), ExitUsage, "either --dir or --s3-endpoint"},
		{"bucket without endpoint", BackupMain, nil, append(base, "--bucket", "b"), ExitUsage, "needs both"},
		{"no credentials", BackupMain, nil, append(base, "--bucket", "b", "--s3-endpoint", "127.0.0.1:1"), ExitUsage, "AWS_ACCESS_KEY_ID"},
		{"scheme in endpoint", BackupMain, map[string]string{EnvAccessKeyID: "a", EnvSecretAccessKey: "b"},
			append(base, "--bucket", "b", "--s3-endpoint", "http://127.0.0.1:1"), ExitUsage, "without scheme"},
		{"bad compression", BackupMain, nil, append(base, "--dir", "/tmp", "--compress", "xz"), ExitUsage, "compression must be one of zstd, gzip, none"},
		{"bad key", BackupMain, nil, []string{"--endpoints", "http://x:1", "--dir", "/tmp", "--key", "../x"}, ExitUsage, "object key"},
		{"no endpoints", BackupMain, nil, []string{"--dir", "/tmp", "--key", "k"}, ExitUsage, "no etcd endpoints"},
		{"password without user", BackupMain, nil, append(base, "--dir", "/tmp", "--password-file", "/p"), ExitUsage, "--password-file needs --user"},
		{"bad env bool", BackupMain, map[string]string{"QUORUM_S3_INSECURE": "maybe"}, base, ExitUsage, "$QUORUM_S3_INSECURE"},
		{"missing key file", BackupMain, nil, append(base, "--dir", "/tmp", "--encryption-key-file", "/nonexistent"), ExitFailure, "reading encryption key"},
		{"restore nothing", RestoreMain, nil, nil, ExitUsage, "member name is empty"},
		{"bump without compaction", RestoreMain, nil, append(member, "--dir", "/tmp", "--mark-compacted=false"), ExitUsage, "needs mark-compacted"},
		{"compaction without bump", RestoreMain, nil, append(member, "--dir", "/tmp", "--bump-revision", "0", "--mark-compacted"), ExitUsage, "needs a revision bump"},
		{"bad bump", RestoreMain, map[string]string{"QUORUM_BUMP_REVISION": "-1"}, append(member, "--dir", "/tmp"), ExitUsage, "$QUORUM_BUMP_REVISION"},
		{"name not in cluster", RestoreMain, nil, append(member, "--dir", "/tmp", "--name", "b"), ExitUsage, `no peer URLs for member "b"`},
	}
	for _, tc := range tests {
		code, _, errOut := runCLI(t, tc.main, tc.env, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, errOut, tc.code, tc.want)
		}
	}
}

func TestTerminationLogNeverCreated(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "termination-log")
	code, _, _ := runCLI(t, BackupMain, map[string]string{EnvTerminationLog: p}, "--nope")
	if code != ExitUsage {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("termination log created: %v", err)
	}
	// An existing one gets the error, one line, truncated to the limit.
	if err := os.WriteFile(p, []byte("old content that is longer than the message"), 0o600); err != nil {
		t.Fatal(err)
	}
	runCLI(t, BackupMain, map[string]string{EnvTerminationLog: p}, "--key", strings.Repeat("k/", 3000))
	b, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(b), "backup failed: ") || strings.Contains(string(b), "\n") || len(b) > maxTerminationMessage {
		t.Fatalf("termination log %q (%d bytes)", b[:min(len(b), 200)], len(b))
	}
}
