package backup

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
	"quorum.dev/etcd-operator/etcdserver/server"
)

// s3Fixture is one MinIO and one source member with data, shared by the
// parallel subtests of TestS3 (which only read from the source).
type s3Fixture struct {
	srv    *s3test.Server
	tls    server.TLSDir
	src    server.Settings
	rev    int64 // revision after the last write
	keys   int
	encKey string // path of a hex key file
}

func (f *s3Fixture) env(bucket string) map[string]string {
	return map[string]string{
		EnvAccessKeyID:       f.srv.AccessKey,
		EnvSecretAccessKey:   f.srv.SecretKey,
		"QUORUM_S3_ENDPOINT": f.srv.Endpoint,
		"QUORUM_S3_INSECURE": "true",
		"QUORUM_S3_BUCKET":   bucket,
	}
}

// backup runs `quorum-etcd backup` against the source and returns the
// manifest it printed.
func (f *s3Fixture) backup(t *testing.T, env map[string]string, args ...string) Manifest {
	t.Helper()
	args = append([]string{"--endpoints", f.src.AdvertiseClientURL.String(), "--tls-dir", string(f.tls)}, args...)
	code, out, errOut := runCLI(t, BackupMain, env, args...)
	if code != ExitOK {
		t.Fatalf("backup exited %d: %s", code, errOut)
	}
	m, err := ParseManifest([]byte(lastLine(out)))
	if err != nil {
		t.Fatalf("last stdout line is not a manifest: %v\n%s", err, out)
	}
	return m
}

// restoreArgs are the member flags of a restore into s.
func restoreArgs(s server.Settings, extra ...string) []string {
	return append([]string{
		"--data-dir", s.DataDir, "--name", s.Name,
		"--initial-cluster", server.FormatInitialCluster(s.InitialCluster),
		"--initial-cluster-token", s.ClusterToken,
	}, extra...)
}

func (f *s3Fixture) restore(t *testing.T, env map[string]string, s server.Settings, extra ...string) RestoreResult {
	t.Helper()
	code, out, errOut := runCLI(t, RestoreMain, env, restoreArgs(s, extra...)...)
	if code != ExitOK {
		t.Fatalf("restore exited %d: %s", code, errOut)
	}
	var res RestoreResult
	if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
		t.Fatalf("last stdout line is not a result: %v\n%s", err, out)
	}
	return res
}

// restoreFails runs a restore that must fail with want in its one-line
// error, and checks that the data dir was not created.
func (f *s3Fixture) restoreFails(t *testing.T, env map[string]string, want string, extra ...string) {
	t.Helper()
	s := memberSettings(t, "failed", f.tls)
	code, _, errOut := runCLI(t, RestoreMain, env, restoreArgs(s, extra...)...)
	if code != ExitFailure || !strings.Contains(errOut, want) {
		t.Fatalf("restore: exit %d, stderr %q; want exit 1 and %q", code, errOut, want)
	}
	assertOneLineError(t, errOut)
	t.Logf("refused as expected: %s", errorLine(errOut))
	if _, err := os.Stat(s.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data dir %s exists after a failed restore (%v)", s.DataDir, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(s.DataDir), ".*"))
	if len(leftovers) > 0 {
		t.Fatalf("work files left behind: %v", leftovers)
	}
}

// errorLine is the error line of a command's stderr.
func errorLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "quorum-etcd ") {
			return l
		}
	}
	return ""
}

// assertOneLineError checks the error is one line after the JSON logs.
func assertOneLineError(t *testing.T, stderr string) {
	t.Helper()
	var errs []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(l, "{") && !strings.HasPrefix(l, "run \"quorum-etcd") {
			errs = append(errs, l)
		}
	}
	if len(errs) != 1 {
		t.Fatalf("want exactly one error line, got %q", errs)
	}
}

// checkRestored starts a member on a restored data dir and checks its data
// and revisions.
func (f *s3Fixture) checkRestored(t *testing.T, s server.Settings, bump int64) {
	t.Helper()
	cli := startMember(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := cli.Get(ctx, "/k/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != f.keys {
		t.Fatalf("restored %d keys, want %d", len(resp.Kvs), f.keys)
	}
	for i, kv := range resp.Kvs {
		want := fmt.Sprintf("v1-%d", i)
		if i < f.keys/2 {
			want = fmt.Sprintf("v2-%d", i)
		}
		if string(kv.Value) != want {
			t.Fatalf("%s = %q, want %q", kv.Key, kv.Value, want)
		}
	}
	if got, want := resp.Header.Revision, f.rev+bump; got < want {
		t.Fatalf("restored revision %d, want >= %d", got, want)
	}
	_, err = cli.Get(ctx, "/k/0000", clientv3.WithRev(f.rev))
	if bump > 0 && !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("Get at the old revision %d: %v, want %v", f.rev, err, rpctypes.ErrCompacted)
	}
	if bump == 0 && err != nil {
		t.Fatalf("Get at revision %d without bump: %v", f.rev, err)
	}
	// New writes continue above the restored revision.
	put, err := cli.Put(ctx, "/after-restore", "x")
	if err != nil || put.Header.Revision <= f.rev+bump {
		t.Fatalf("put after restore: rev %v, %v", put, err)
	}
}

func getObject(t *testing.T, c *minio.Client, bucket, key string) []byte {
	t.Helper()
	o, err := c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func putObject(t *testing.T, c *minio.Client, bucket, key string, b []byte) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), bucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestS3(t *testing.T) {
	t.Parallel()
	f := &s3Fixture{srv: s3test.Start(t), tls: writeTLSDir(t), keys: 200}
	f.src = memberSettings(t, "src", f.tls)
	f.rev = fill(t, startMember(t, f.src), f.keys)
	f.encKey = writeTestFile(t, "key.hex", []byte(hex.EncodeToString(testKey(t))+"\n"))
	mc := f.srv.Client(t)

	t.Run("gzip over mutual TLS, restore with bump, start", func(t *testing.T) {
		t.Parallel()
		bucket := f.srv.NewBucket(t)
		env := f.env(bucket)
		termLog := writeTestFile(t, "termination-log", nil)
		env[EnvTerminationLog] = termLog
		m := f.backup(t, env, "--key", "c1/snap.db.gz", "--compress", "gzip", "--source", "external "+f.src.AdvertiseClientURL.String())

		if m.EtcdRevision != f.rev || m.EtcdRevisionMax != f.rev {
			t.Errorf("manifest revisions %d..%d, want %d (no writes during the backup)", m.EtcdRevision, m.EtcdRevisionMax, f.rev)
		}
		if m.Compression != CompressionGzip || m.Encrypted || m.Location != "s3://"+bucket+"/c1/snap.db.gz" ||
			m.EtcdVersion != BinaryEtcdVersion() || m.MemberName != "src" ||
			m.Endpoint != f.src.AdvertiseClientURL.String() || m.ClusterID == "" || m.MemberID == "" ||
			m.Source != "external "+f.src.AdvertiseClientURL.String() {
			t.Errorf("manifest: %+v", m)
		}
		obj := getObject(t, mc, bucket, "c1/snap.db.gz")
		if int64(len(obj)) != m.StoredSize || m.StoredSize >= m.Size {
			t.Errorf("stored %d bytes, manifest says %d of %d raw", len(obj), m.StoredSize, m.Size)
		}
		stored, err := ParseManifest(getObject(t, mc, bucket, "c1/snap.db.gz"+ManifestSuffix))
		if err != nil || stored != m {
			t.Errorf("stored manifest %+v, %v; printed %+v", stored, err, m)
		}
		if b, _ := os.ReadFile(termLog); string(b) != string(m.MarshalLine()) {
			t.Errorf("termination log %q, want the manifest", b)
		}

		s := memberSettings(t, "restored", f.tls)
		res := f.restore(t, env, s, "--key", "c1/snap.db.gz")
		if !res.Restored || res.SnapshotRevision != f.rev || res.Revision != f.rev+DefaultBumpRevision || !res.MarkCompacted {
			t.Errorf("result: %+v", res)
		}
		if b, _ := os.ReadFile(termLog); !strings.Contains(string(b), `"restored":true`) {
			t.Errorf("termination log after restore: %q", b)
		}
		f.checkRestored(t, s, DefaultBumpRevision)
	})

	t.Run("zstd (the default) and encryption, restore, start", func(t *testing.T) {
		t.Parallel()
		env := f.env(f.srv.NewBucket(t))
		m := f.backup(t, env, "--key", "enc.db", "--encryption-key-file", f.encKey)
		if !m.Encrypted || m.Encryption != EncryptionFormat || m.Compression != CompressionZstd {
			t.Errorf("manifest: %+v", m)
		}
		f.restoreFails(t, env, "the backup is encrypted: an encryption key file is required", "--key", "enc.db")
		wrong := writeTestFile(t, "wrong.key", testKey(t))
		f.restoreFails(t, env, "decryption failed", "--key", "enc.db", "--encryption-key-file", wrong)

		s := memberSettings(t, "restored", f.tls)
		f.restore(t, env, s, "--key", "enc.db", "--encryption-key-file", f.encKey)
		f.checkRestored(t, s, DefaultBumpRevision)
	})

	t.Run("encryption without compression", func(t *testing.T) {
		t.Parallel()
		env := f.env(f.srv.NewBucket(t))
		m := f.backup(t, env, "--key", "enc.db", "--compress", "none", "--encryption-key-file", f.encKey)
		if m.StoredSize <= m.Size {
			t.Errorf("encrypted object %d bytes, raw %d: no overhead?", m.StoredSize, m.Size)
		}
		s := memberSettings(t, "restored", f.tls)
		if res := f.restore(t, env, s, "--key", "enc.db", "--encryption-key-file", f.encKey); !res.Restored {
			t.Errorf("result: %+v", res)
		}
	})

	t.Run("wrong credentials", func(t *testing.T) {
		t.Parallel()
		bucket := f.srv.NewBucket(t)
		for name, c := range map[string]struct{ key, value, want string }{
			"secret": {EnvSecretAccessKey, "wrong-secret-123", "secret access key (AWS_SECRET_ACCESS_KEY) is probably wrong"},
			"key id": {EnvAccessKeyID, "nobody", "S3 rejected the access key ID (AWS_ACCESS_KEY_ID)"},
		} {
			env := f.env(bucket)
			env[c.key] = c.value
			termLog := writeTestFile(t, "termination-log", nil)
			env[EnvTerminationLog] = termLog
			code, out, errOut := runCLI(t, BackupMain, env, "--endpoints", f.src.AdvertiseClientURL.String(),
				"--tls-dir", string(f.tls), "--key", "x.db")
			if code != ExitFailure || !strings.Contains(errOut, c.want) || out != "" {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", name, code, out, errOut, c.want)
			}
			assertOneLineError(t, errOut)
			t.Logf("backup failed as expected: %s", errorLine(errOut))
			if b, _ := os.ReadFile(termLog); !strings.Contains(string(b), c.want) {
				t.Errorf("%s: termination log %q", name, b)
			}
			f.restoreFails(t, env, c.want, "--key", "x.db")
		}
	})

	t.Run("unknown bucket", func(t *testing.T) {
		t.Parallel()
		env := f.env("no-such-bucket")
		code, _, errOut := runCLI(t, BackupMain, env, "--endpoints", f.src.AdvertiseClientURL.String(),
			"--tls-dir", string(f.tls), "--key", "x.db")
		want := `bucket "no-such-bucket" does not exist on ` + f.srv.Endpoint
		if code != ExitFailure || !strings.Contains(errOut, want) {
			t.Errorf("backup: exit %d, stderr %q; want %q", code, errOut, want)
		}
		t.Logf("backup failed as expected: %s", errorLine(errOut))
		f.restoreFails(t, env, want, "--key", "x.db")
	})

	t.Run("missing backup", func(t *testing.T) {
		t.Parallel()
		f.restoreFails(t, f.env(f.srv.NewBucket(t)), "object does not exist", "--key", "never.db")
	})

	t.Run("corrupt object", func(t *testing.T) {
		t.Parallel()
		bucket := f.srv.NewBucket(t)
		env := f.env(bucket)
		for key, want := range map[string]string{
			"plain.db": "checksum mismatch",
			"gz.db":    "corrupt",
		} {
			args := []string{"--key", key}
			if key == "plain.db" {
				args = append(args, "--compress", "none")
			}
			f.backup(t, env, args...)
			obj := getObject(t, mc, bucket, key)
			obj[len(obj)/2] ^= 0x55
			putObject(t, mc, bucket, key, obj)
			f.restoreFails(t, env, want, "--key", key)
		}
	})

	t.Run("truncated object", func(t *testing.T) {
		t.Parallel()
		bucket := f.srv.NewBucket(t)
		env := f.env(bucket)
		for key, args := range map[string][]string{
			"plain.db": {"--compress", "none"},
			"gz.db":    {},
			"enc.db":   {"--compress", "none", "--encryption-key-file", f.encKey},
		} {
			f.backup(t, env, append([]string{"--key", key}, args...)...)
			obj := getObject(t, mc, bucket, key)
			putObject(t, mc, bucket, key, obj[:len(obj)/2])
			extra := []string{"--key", key}
			if key == "enc.db" {
				extra = append(extra, "--encryption-key-file", f.encKey)
			}
			f.restoreFails(t, env, "truncated", extra...)
		}
	})

	t.Run("newer etcd version refused", func(t *testing.T) {
		t.Parallel()
		bucket := f.srv.NewBucket(t)
		env := f.env(bucket)
		m := f.backup(t, env, "--key", "new.db")
		m.EtcdVersion, m.StorageVersion = "3.99.0", "3.99.0"
		putObject(t, mc, bucket, "new.db"+ManifestSuffix, m.MarshalLine())
		f.restoreFails(t, env, "newer than this binary's etcd "+BinaryEtcdVersion(), "--key", "new.db")
	})

	t.Run("existing data dir", func(t *testing.T) {
		t.Parallel()
		env := f.env(f.srv.NewBucket(t))
		f.backup(t, env, "--key", "a.db")
		f.backup(t, env, "--key", "b.db")
		s := memberSettings(t, "m", f.tls)
		f.restore(t, env, s, "--key", "a.db")

		// The same restore again (an init container after a restart): no-op.
		if res := f.restore(t, env, s, "--key", "a.db"); res.Restored {
			t.Errorf("second identical restore restored again: %+v", res)
		}
		// Another backup over a member: refused, the member untouched.
		marker, _ := os.ReadFile(filepath.Join(s.DataDir, RestoreMarkerFile))
		code, _, errOut := runCLI(t, RestoreMain, env, restoreArgs(s, "--key", "b.db")...)
		if code != ExitFailure || !strings.Contains(errOut, "already holds an etcd member; refusing to overwrite it (use --force") {
			t.Fatalf("restore over a member: exit %d, %s", code, errOut)
		}
		if now, _ := os.ReadFile(filepath.Join(s.DataDir, RestoreMarkerFile)); !bytes.Equal(now, marker) {
			t.Fatal("refused restore changed the data dir")
		}
		// --force replaces it.
		if res := f.restore(t, env, s, "--key", "b.db", "--force"); !res.Restored {
			t.Fatalf("forced restore: %+v", res)
		}
		if now, _ := os.ReadFile(filepath.Join(s.DataDir, RestoreMarkerFile)); bytes.Equal(now, marker) {
			t.Fatal("forced restore kept the old data dir")
		}
		f.checkRestored(t, s, DefaultBumpRevision)

		// A data dir with other files is refused too.
		other := memberSettings(t, "o", f.tls)
		if err := os.MkdirAll(other.DataDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(other.DataDir, "junk"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut = runCLI(t, RestoreMain, env, restoreArgs(other, "--key", "a.db")...)
		if code != ExitFailure || !strings.Contains(errOut, "is not empty; refusing") {
			t.Fatalf("restore over files: exit %d, %s", code, errOut)
		}
	})

	t.Run("unreachable etcd", func(t *testing.T) {
		t.Parallel()
		env := f.env(f.srv.NewBucket(t))
		deadURL := localURL("https")
		dead := deadURL.String()
		code, _, errOut := runCLI(t, BackupMain, env, "--endpoints", dead, "--tls-dir", string(f.tls), "--key", "x.db")
		if code != ExitFailure || !strings.Contains(errOut, "no healthy etcd member to back up from ("+dead+": ") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
		t.Logf("backup failed as expected: %s", errorLine(errOut))
	})
}
