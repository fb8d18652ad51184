package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/snapshot"
	"go.uber.org/zap"
)

// saveSnapshot writes what `etcdctl snapshot save` writes (etcdctl calls
// client/v3/snapshot.SaveWithVersion): the bbolt file with etcd's
// appended SHA-256.
func saveSnapshot(t *testing.T, endpoint, path string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	v, err := snapshot.SaveWithVersion(ctx, zap.NewNop(), clientv3.Config{Endpoints: []string{endpoint}}, path)
	if err != nil {
		t.Fatalf("etcdctl-style snapshot save: %v", err)
	}
	return v
}

// TestRestoreForeignSnapshot restores files Quorum did not make (no
// manifest): an `etcdctl snapshot save` file is verified and restored
// with etcd's own hash; a copy without that hash is refused with a message
// that says so, before anything is written, unless --skip-hash-check;
// compressed, encrypted and damaged files are refused.
func TestRestoreForeignSnapshot(t *testing.T) {
	t.Parallel()
	f := &s3Fixture{keys: 20}
	f.src = memberSettings(t, "src", "")
	f.rev = fill(t, startMember(t, f.src), f.keys)
	dir := t.TempDir()
	// etcd records its storage version a few seconds after a new cluster
	// starts; wait for it, so the snapshot carries one to check.
	var storageVersion string
	for deadline := time.Now().Add(waitTimeout); storageVersion == ""; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("etcd recorded no storage version")
		}
		storageVersion = saveSnapshot(t, f.src.AdvertiseClientURL.String(), filepath.Join(dir, "c", "plain.db"))
	}
	plain, err := os.ReadFile(filepath.Join(dir, "c", "plain.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(plain)%512 != sha256.Size {
		t.Fatalf("etcd's snapshot is %d bytes: no appended hash?", len(plain))
	}
	// A hashless copy: the database without etcd's hash, as a copy of
	// member/snap/db would be.
	writeFile(t, filepath.Join(dir, "c", "copy.db"), plain[:len(plain)-sha256.Size])
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(plain)
	_ = zw.Close()
	writeFile(t, filepath.Join(dir, "c", "plain.db.gz"), gz.Bytes())
	writeFile(t, filepath.Join(dir, "c", "plain.db.zst"), zstdBytes(t, plain))
	damaged := bytes.Clone(plain)
	damaged[len(damaged)/2] ^= 0xff
	writeFile(t, filepath.Join(dir, "c", "damaged.db"), damaged)
	env := map[string]string{"QUORUM_BACKUP_DIR": dir}

	t.Run("etcdctl snapshot: verify, restore, start, restore again is a no-op", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := runCLI(t, RestoreMain, env, "--verify-only", "--key", "c/plain.db")
		if code != ExitOK {
			t.Fatalf("verify exited %d: %s", code, errOut)
		}
		var v VerifyResult
		if err := json.Unmarshal([]byte(lastLine(out)), &v); err != nil || !v.Verified || v.Revision != f.rev ||
			v.Size != int64(len(plain)) || v.SHA256 == "" {
			t.Fatalf("verify result %q: %v", out, err)
		}

		s := memberSettings(t, "m0", "")
		// Another snapshot than the verified one: refused, nothing written.
		code, _, errOut = runCLI(t, RestoreMain, env, append(restoreArgs(s, "--key", "c/plain.db"), "--expect-sha256", strings.Repeat("ab", 32))...)
		if code == ExitOK || !strings.Contains(errOut, "not the one that was verified") {
			t.Fatalf("unverified snapshot: exit %d, %s", code, errOut)
		}
		if _, err := os.Stat(s.DataDir); !os.IsNotExist(err) {
			t.Fatalf("the refused restore wrote the data dir: %v", err)
		}
		res := f.restore(t, env, s, "--key", "c/plain.db", "--expect-sha256", v.SHA256)
		if !res.Restored || res.Manifest || !res.EtcdHashChecked || res.SHA256 != v.SHA256 ||
			res.SnapshotRevision != f.rev || res.StorageVersion != storageVersion {
			t.Errorf("result: %+v (etcd reported storage version %q)", res, storageVersion)
		}
		// The init container runs again after a pod restart.
		if again := f.restore(t, env, s, "--key", "c/plain.db"); again.Restored {
			t.Errorf("second restore: %+v, want nothing done", again)
		}
		f.checkRestored(t, s, DefaultBumpRevision)
	})

	t.Run("in place: a restarted init container does not read the snapshot again", func(t *testing.T) {
		t.Parallel()
		obj := filepath.Join(dir, "c", "inplace.db")
		writeFile(t, obj, plain)
		s := memberSettings(t, "m2", "")
		old := s
		old.ClusterToken = "the-old-cluster"
		f.restore(t, env, old, "--key", "c/inplace.db", "--bump-revision", "0")
		args := []string{"--key", "c/inplace.db", "--force", "--restore-id", "r1"}
		if res := f.restore(t, env, s, args...); !res.Restored {
			t.Fatalf("in-place restore: %+v", res)
		}
		if err := os.Remove(obj); err != nil {
			t.Fatal(err)
		}
		if res := f.restore(t, env, s, args...); res.Restored {
			t.Fatalf("second run: %+v, want nothing done", res)
		}
		f.checkRestored(t, s, DefaultBumpRevision)
	})

	t.Run("hashless copy is refused before anything is written", func(t *testing.T) {
		t.Parallel()
		code, _, errOut := runCLI(t, RestoreMain, env, "--verify-only", "--key", "c/copy.db")
		if code != ExitFailure || !strings.Contains(errOut, "has no etcd hash") || !strings.Contains(errOut, "skipHashCheck") {
			t.Fatalf("verify of a hashless copy: exit %d, %s", code, errOut)
		}
		f.restoreFails(t, env, "has no etcd hash", "--key", "c/copy.db")
	})

	t.Run("hashless copy with --skip-hash-check", func(t *testing.T) {
		t.Parallel()
		if code, _, errOut := runCLI(t, RestoreMain, env, "--verify-only", "--key", "c/copy.db", "--skip-hash-check"); code != ExitOK {
			t.Fatalf("verify exited %d: %s", code, errOut)
		}
		s := memberSettings(t, "m1", "")
		env := map[string]string{"QUORUM_BACKUP_DIR": dir, "QUORUM_SKIP_HASH_CHECK": "true"}
		res := f.restore(t, env, s, "--key", "c/copy.db", "--bump-revision", "0")
		if !res.Restored || res.EtcdHashChecked || res.SnapshotRevision != f.rev {
			t.Errorf("result: %+v", res)
		}
		f.checkRestored(t, s, 0)
	})

	t.Run("compressed, damaged, with a key", func(t *testing.T) {
		t.Parallel()
		f.restoreFails(t, env, "is gzip-compressed: a snapshot Quorum did not make must be the raw file", "--key", "c/plain.db.gz")
		f.restoreFails(t, env, "is zstd-compressed: a snapshot Quorum did not make must be the raw file", "--key", "c/plain.db.zst")
		f.restoreFails(t, env, "does not match etcd's own SHA-256", "--key", "c/damaged.db")
		// A hash that is there but wrong means damage: skipping does not
		// cover it (a bbolt file alone is whole pages, never this shape).
		f.restoreFails(t, env, "does not match etcd's own SHA-256", "--key", "c/damaged.db", "--skip-hash-check")
		key := writeTestFile(t, "key.raw", testKey(t))
		f.restoreFails(t, env, "an encryption key was given but", "--key", "c/plain.db", "--encryption-key-file", key)
		f.restoreFails(t, env, "does not exist", "--key", "c/missing.db")
	})
}

// TestCheckEtcdHash is etcd's rule (etcdutl snapshot hasChecksum and
// copyAndVerifyDB) on sizes and contents.
func TestCheckEtcdHash(t *testing.T) {
	db := bytes.Repeat([]byte{7}, 1024)
	sum := sha256.Sum256(db)
	withHash := append(bytes.Clone(db), sum[:]...)
	bad := bytes.Clone(withHash)
	bad[len(bad)-1] ^= 1
	for _, c := range []struct {
		name        string
		b           []byte
		skip        bool
		wantChecked bool
		wantErr     string
	}{
		{"hash matches", withHash, false, true, ""},
		{"hash matches, skip asked", withHash, true, true, ""},
		{"hash wrong", bad, false, false, "does not match etcd's own SHA-256"},
		{"hash wrong, skip asked: still refused", bad, true, false, "does not match etcd's own SHA-256"},
		{"no hash", db, false, false, "has no etcd hash"},
		{"no hash, skip", db, true, false, ""},
		{"odd size", db[:1000], false, false, "has no etcd hash"},
		{"empty", nil, false, false, "has no etcd hash"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc := newTrailerCheck()
			_, _ = tc.Write(c.b)
			checked, err := checkEtcdHash(tc, int64(len(c.b)), c.skip)
			if checked != c.wantChecked || (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("checked %v, err %v; want %v, %q", checked, err, c.wantChecked, c.wantErr)
			}
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
