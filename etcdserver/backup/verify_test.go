package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestVerifyNewerStorageVersion: a snapshot whose database records a
// storage version newer than this binary's etcd, with etcd's appended
// hash and a forged manifest that matches it and hides the version,
// passes every check of the manifest and the bytes; --verify-only still
// refuses it, as a member's restore would, because it restores into
// scratch space.
func TestVerifyNewerStorageVersion(t *testing.T) {
	t.Parallel()
	f := &s3Fixture{keys: 5}
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
	obj, err := os.ReadFile(filepath.Join(dir, "c", "snap.db"))
	if err != nil {
		t.Fatal(err)
	}
	mb, err := os.ReadFile(filepath.Join(dir, "c", "snap.db"+ManifestSuffix))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	codec, _ := m["compression"].(string)
	zr, err := decompressReader(codec, bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "db")
	writeFile(t, db, raw[:len(raw)-sha256.Size])
	bdb, err := bolt.Open(db, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("storageVersion"), []byte("3.99.0"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	forged := append(body, sum[:]...)
	whole := sha256.Sum256(forged)
	m["sha256"], m["size"], m["storedSize"], m["compression"] = hex.EncodeToString(whole[:]), len(forged), len(forged), CompressionNone
	delete(m, "storageVersion")
	fm, _ := json.Marshal(m)
	writeFile(t, filepath.Join(dir, "c", "newer.db"), forged)
	writeFile(t, filepath.Join(dir, "c", "newer.db"+ManifestSuffix), fm)

	code, _, errOut := runCLI(t, RestoreMain, env, "--verify-only", "--key", "c/newer.db")
	if code != ExitFailure || !strings.Contains(errOut, "storage version 3.99.0, newer than this binary's etcd") {
		t.Fatalf("verify of a newer storage version behind a forged manifest: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, RestoreMain, env, "--verify-only"); code != ExitOK {
		t.Fatalf("verify of the real backup: exit %d, %s", code, errOut)
	}
}
