package backup

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.etcd.io/etcd/server/v3/storage/mvcc"
	"go.etcd.io/etcd/server/v3/storage/schema"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"quorum.dev/etcd-operator/etcdserver/server"
)

// DefaultBumpRevision is the default revision bump of a restore: the value
// etcd's disaster-recovery guide suggests (1,000,000,000), far more than the
// writes a cluster makes between its last backup and its loss, so the
// restored revision is above any revision a client or watch cache saw.
const DefaultBumpRevision = 1_000_000_000

// RestoreMarkerFile is written into a restored data dir. It records which
// backup was restored, so that running the same restore again (an init
// container after a pod restart) is a no-op instead of an error.
const RestoreMarkerFile = "quorum-restore.json"

// RestoreOptions configure one restore.
type RestoreOptions struct {
	// Key is the object key; the manifest is read from Key+ManifestSuffix
	// unless Manifest is set.
	Key string
	// Manifest, when set, is used instead of the stored manifest.
	Manifest *Manifest
	// EncryptionKey decrypts an encrypted backup.
	EncryptionKey []byte

	// DataDir is the data dir to create. Its parent must be on the same
	// filesystem as the data dir (it is renamed into place) and must not
	// be the data dir's mount point (mount the volume at the parent).
	DataDir string
	// Name, InitialCluster (name=peerURL,...), InitialClusterToken and
	// PeerURLs describe the member in the new cluster, as for etcd.
	Name                string
	InitialCluster      string
	InitialClusterToken string
	PeerURLs            []string

	// BumpRevision is added to the snapshot's revision; MarkCompacted marks
	// the bumped revision compacted. etcd only bumps when both are set.
	BumpRevision  uint64
	MarkCompacted bool
	// Force replaces a data dir that holds another member or other files.
	Force bool
	// RestoreID names one in-place restore. It is recorded in the marker,
	// and a data dir already restored under the same ID is left alone, even
	// with Force: a restarted init container must not restore twice.
	RestoreID string
	// KeepReplaced, with Force, is where the replaced data dir is moved
	// (an older copy there is removed first) instead of being deleted.
	KeepReplaced string
}

// RestoreResult is what a restore did; printed as JSON.
type RestoreResult struct {
	// Restored is false when the data dir already held this very backup.
	Restored bool   `json:"restored"`
	Message  string `json:"message"`
	DataDir  string `json:"dataDir"`
	Name     string `json:"name"`
	Location string `json:"location"`
	SHA256   string `json:"sha256"`
	// SnapshotRevision is the latest revision found in the snapshot; the
	// restored member starts at Revision = SnapshotRevision + BumpRevision.
	SnapshotRevision int64  `json:"snapshotRevision,omitempty"`
	Revision         int64  `json:"revision,omitempty"`
	BumpRevision     uint64 `json:"bumpRevision"`
	MarkCompacted    bool   `json:"markCompacted"`
}

// restoreMarker is the content of RestoreMarkerFile.
type restoreMarker struct {
	SHA256     string `json:"sha256"`
	Location   string `json:"location"`
	Name       string `json:"name"`
	RestoreID  string `json:"restoreID,omitempty"`
	RestoredAt string `json:"restoredAt"`
	Revision   int64  `json:"revision"`
}

func (o RestoreOptions) validate() error {
	var errs []error
	if err := ValidateKey(o.Key); err != nil {
		errs = append(errs, err)
	}
	if o.DataDir == "" {
		errs = append(errs, errors.New("data dir is empty"))
	} else if filepath.Dir(filepath.Clean(o.DataDir)) == filepath.Clean(o.DataDir) {
		errs = append(errs, fmt.Errorf("data dir %s has no parent", o.DataDir))
	}
	if o.Name == "" {
		errs = append(errs, errors.New("member name is empty"))
	}
	if o.InitialClusterToken == "" {
		errs = append(errs, errors.New("initial cluster token is empty"))
	}
	if _, err := server.ParseInitialCluster(o.InitialCluster); err != nil {
		errs = append(errs, fmt.Errorf("initial cluster: %w", err))
	}
	if len(o.PeerURLs) == 0 {
		errs = append(errs, fmt.Errorf("no peer URLs for member %q", o.Name))
	}
	if o.BumpRevision > 0 && !o.MarkCompacted {
		errs = append(errs, errors.New("a revision bump needs mark-compacted (etcd ignores the bump otherwise)"))
	}
	if o.MarkCompacted && o.BumpRevision == 0 {
		errs = append(errs, errors.New("mark-compacted needs a revision bump > 0"))
	}
	if o.KeepReplaced != "" && filepath.Dir(filepath.Clean(o.KeepReplaced)) != filepath.Dir(filepath.Clean(o.DataDir)) {
		errs = append(errs, fmt.Errorf("the kept data dir %s must be next to the data dir %s (same filesystem)", o.KeepReplaced, o.DataDir))
	}
	return errors.Join(errs...)
}

// PeerURLsOf returns the peer URLs listed for name in an initial-cluster
// string, the default of --initial-advertise-peer-urls.
func PeerURLsOf(initialCluster, name string) []string {
	peers, err := server.ParseInitialCluster(initialCluster)
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range peers {
		if p.Name == name {
			out = append(out, p.URL.String())
		}
	}
	return out
}

// Restore creates o.DataDir from a backup:
//
//  1. read and validate the manifest; refuse a backup of a newer etcd;
//  2. refuse a data dir that holds a member or files (unless Force); a data
//     dir holding exactly this restore already is left alone (Restored
//     false);
//  3. download into a work dir next to the data dir, decrypting,
//     decompressing and hashing on the way; compare size and SHA-256 with
//     the manifest; check the storage version recorded in the snapshot;
//  4. run etcd's restore (etcdutl) into the work dir, with the revision
//     bump, and write RestoreMarkerFile;
//  5. rename the result into place (after moving a forced-over data dir
//     away), and remove the work dir.
//
// Until step 5 the data dir is not touched, so any failure leaves it as it
// was.
func Restore(ctx context.Context, lg *zap.Logger, o RestoreOptions, st Store) (res RestoreResult, err error) {
	if err := o.validate(); err != nil {
		return RestoreResult{}, err
	}
	dataDir := filepath.Clean(o.DataDir)
	if err := st.Check(ctx, false); err != nil {
		return RestoreResult{}, err
	}
	m, err := loadManifest(ctx, o, st)
	if err != nil {
		return RestoreResult{}, err
	}
	if err := CheckVersion(m, BinaryEtcdVersion()); err != nil {
		return RestoreResult{}, err
	}
	if m.Encrypted && o.EncryptionKey == nil {
		return RestoreResult{}, errors.New("the backup is encrypted: an encryption key file is required")
	}
	res = RestoreResult{
		DataDir: dataDir, Name: o.Name, Location: st.Location(o.Key), SHA256: m.SHA256,
		BumpRevision: o.BumpRevision, MarkCompacted: o.MarkCompacted,
	}
	if done, err := checkDataDir(dataDir, o, m); err != nil || done {
		if done {
			res.Message = "data dir already holds this restore; nothing done"
		}
		return res, err
	}

	parent := filepath.Dir(dataDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return RestoreResult{}, fmt.Errorf("creating %s: %w", parent, err)
	}
	workPrefix := "." + filepath.Base(dataDir) + ".restore-"
	removeStale(lg, parent, workPrefix)
	work, err := os.MkdirTemp(parent, workPrefix)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("creating work dir next to %s: %w", dataDir, err)
	}
	defer func() {
		if rerr := os.RemoveAll(work); rerr != nil && err == nil {
			lg.Warn("removing work dir", zap.String("dir", work), zap.Error(rerr))
		}
	}()

	snapPath := filepath.Join(work, "snapshot.db")
	if err := download(ctx, st, o, m, snapPath); err != nil {
		return RestoreResult{}, err
	}
	snapRev, err := inspectSnapshot(snapPath)
	if err != nil {
		return RestoreResult{}, err
	}
	if m.EtcdRevisionMax > 0 && snapRev > m.EtcdRevisionMax {
		lg.Warn("snapshot revision above the manifest's bound", zap.Int64("snapshot-revision", snapRev),
			zap.Int64("manifest-max", m.EtcdRevisionMax))
	}
	res.SnapshotRevision = snapRev
	res.Revision = snapRev + int64(o.BumpRevision)

	out := filepath.Join(work, "data")
	if err := etcdRestore(lg, o, snapPath, out); err != nil {
		return RestoreResult{}, fmt.Errorf("etcd restore: %w", err)
	}
	if err := writeMarker(out, restoreMarker{
		SHA256: m.SHA256, Location: res.Location, Name: o.Name, RestoreID: o.RestoreID,
		RestoredAt: time.Now().UTC().Format(time.RFC3339), Revision: res.Revision,
	}); err != nil {
		return RestoreResult{}, err
	}
	replaced := filepath.Join(work, "replaced")
	if o.KeepReplaced != "" {
		replaced = filepath.Clean(o.KeepReplaced)
		if err := os.RemoveAll(replaced); err != nil {
			return RestoreResult{}, fmt.Errorf("removing the older kept data dir %s: %w", replaced, err)
		}
	}
	if err := install(out, dataDir, replaced, o.Force); err != nil {
		return RestoreResult{}, err
	}
	res.Restored = true
	res.Message = "restored"
	lg.Info("restore complete", zap.String("data-dir", dataDir), zap.Int64("revision", res.Revision))
	return res, nil
}

func loadManifest(ctx context.Context, o RestoreOptions, st Store) (Manifest, error) {
	if o.Manifest != nil {
		return *o.Manifest, o.Manifest.Validate()
	}
	rc, err := st.Get(ctx, o.Key+ManifestSuffix)
	if errors.Is(err, ErrNotFound) {
		return Manifest{}, fmt.Errorf("no manifest, so no complete backup under %s (%w)", st.Location(o.Key), err)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("reading manifest: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return Manifest{}, fmt.Errorf("reading manifest: %w", err)
	}
	return ParseManifest(b)
}

// checkDataDir decides whether the restore may go on. done is true when the
// data dir already holds this restore.
func checkDataDir(dataDir string, o RestoreOptions, m Manifest) (done bool, err error) {
	entries, err := os.ReadDir(dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading data dir: %w", err)
	}
	if len(entries) == 0 {
		return false, nil
	}
	member := server.MemberInitialized(dataDir)
	if member && o.RestoreID != "" {
		if mk, err := readMarker(dataDir); err == nil && mk.RestoreID == o.RestoreID && mk.Name == o.Name {
			return true, nil
		}
	}
	if member && !o.Force {
		if mk, err := readMarker(dataDir); err == nil && mk.SHA256 == m.SHA256 && mk.Name == o.Name {
			return true, nil
		}
	}
	switch {
	case o.Force:
		return false, nil
	case member:
		return false, fmt.Errorf("data dir %s already holds an etcd member; refusing to overwrite it (use --force to replace it)", dataDir)
	default:
		return false, fmt.Errorf("data dir %s is not empty; refusing to overwrite it (use --force to replace it)", dataDir)
	}
}

// download writes the raw snapshot to path and checks it against m before
// anything else looks at it.
func download(ctx context.Context, st Store, o RestoreOptions, m Manifest, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	defer f.Close()
	if err := fetch(ctx, st, o.Key, o.EncryptionKey, m, f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return f.Close()
}

// fetch streams the raw snapshot of key into w, decrypting and
// decompressing it, and checks its size and checksum against m.
func fetch(ctx context.Context, st Store, key string, encryptionKey []byte, m Manifest, w io.Writer) error {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	var r io.Reader = rc
	if m.Encrypted {
		r = NewDecryptReader(r, encryptionKey)
	}
	if m.Compression == CompressionGzip {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return corrupt(err)
		}
		defer gz.Close()
		r = gz
	}
	sum := sha256.New()
	// Never write more than the manifest announces (plus one byte to
	// notice the excess).
	n, err := io.Copy(io.MultiWriter(w, sum), io.LimitReader(r, m.Size+1))
	if err != nil {
		return corrupt(err)
	}
	if n > m.Size {
		return fmt.Errorf("backup object is corrupt: it holds more than the %d snapshot bytes the manifest says", m.Size)
	}
	if n < m.Size {
		return fmt.Errorf("backup object is truncated or corrupt: %d snapshot bytes, the manifest says %d", n, m.Size)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != m.SHA256 {
		return fmt.Errorf("backup object is corrupt: checksum mismatch (sha256 %s, the manifest says %s)", got, m.SHA256)
	}
	return nil
}

func corrupt(err error) error {
	switch {
	case errors.Is(err, ErrDecrypt), errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), strings.HasPrefix(err.Error(), "flate:"):
		return fmt.Errorf("backup object is corrupt or truncated: %w", err)
	}
	return fmt.Errorf("reading backup object: %w", err)
}

// inspectSnapshot checks the storage version recorded in the snapshot and
// returns its latest revision.
func inspectSnapshot(path string) (rev int64, err error) {
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		return 0, fmt.Errorf("opening snapshot: %w", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(schema.Meta.Name())
		keys := tx.Bucket(schema.Key.Name())
		if meta == nil || keys == nil {
			return errors.New("the snapshot is not an etcd v3 database")
		}
		if v := string(meta.Get(schema.MetaStorageVersionName)); v != "" {
			if err := CheckVersion(Manifest{StorageVersion: v}, BinaryEtcdVersion()); err != nil {
				return fmt.Errorf("snapshot content: %w", err)
			}
		}
		if k, _ := keys.Cursor().Last(); len(k) >= 17 {
			rev = mvcc.BytesToRev(k[:17]).Main
		}
		return nil
	})
	return rev, err
}

// etcdRestore runs etcdutl's restore. etcd's storage code calls Fatal or
// Panic on some corrupt inputs; both are turned into an error here.
func etcdRestore(lg *zap.Logger, o RestoreOptions, snapPath, out string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("etcd restore aborted: %v", r)
		}
	}()
	elg := lg.Named("etcdutl").WithOptions(zap.WithFatalHook(zapcore.WriteThenPanic), zap.AddStacktrace(zapcore.DPanicLevel))
	return snapshot.NewV3(elg).Restore(snapshot.RestoreConfig{
		SnapshotPath:        snapPath,
		Name:                o.Name,
		OutputDataDir:       out,
		PeerURLs:            o.PeerURLs,
		InitialCluster:      o.InitialCluster,
		InitialClusterToken: o.InitialClusterToken,
		RevisionBump:        o.BumpRevision,
		MarkCompacted:       o.MarkCompacted,
	})
}

func writeMarker(dir string, mk restoreMarker) error {
	b, _ := json.Marshal(mk)
	p := filepath.Join(dir, RestoreMarkerFile)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing restore marker: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing restore marker: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing restore marker: %w", err)
	}
	return f.Close()
}

func readMarker(dataDir string) (restoreMarker, error) {
	var mk restoreMarker
	b, err := os.ReadFile(filepath.Join(dataDir, RestoreMarkerFile))
	if err != nil {
		return mk, err
	}
	return mk, json.Unmarshal(b, &mk)
}

// install renames out to dataDir. An existing empty data dir is removed
// first; with force, an existing non-empty one is moved to replaced (inside
// the work dir, removed with it).
func install(out, dataDir, replaced string, force bool) error {
	if entries, err := os.ReadDir(dataDir); err == nil {
		switch {
		case len(entries) == 0:
			if err := os.Remove(dataDir); err != nil {
				return fmt.Errorf("removing the empty data dir %s (it must not be a mount point; mount the volume at its parent): %w", dataDir, err)
			}
		case force:
			if err := os.Rename(dataDir, replaced); err != nil {
				return fmt.Errorf("moving the old data dir away (it must not be a mount point; mount the volume at its parent): %w", err)
			}
		default:
			return fmt.Errorf("data dir %s is no longer empty; refusing to overwrite it", dataDir)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading data dir: %w", err)
	}
	if err := os.Rename(out, dataDir); err != nil {
		return fmt.Errorf("moving the restored data dir into place: %w", err)
	}
	return syncDir(filepath.Dir(dataDir))
}

// removeStale removes work dirs left by an interrupted restore.
func removeStale(lg *zap.Logger, parent, prefix string) {
	stale, _ := filepath.Glob(filepath.Join(parent, prefix+"*"))
	for _, d := range stale {
		lg.Info("removing the work dir of an interrupted restore", zap.String("dir", d))
		_ = os.RemoveAll(d)
	}
}
