package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/etcdutl/v3/snapshot"
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
	// unless Manifest is set. Without either, the object must be a raw
	// etcd snapshot file (`etcdctl snapshot save`), see snapfile.go.
	Key string
	// Manifest, when set, is used instead of the stored manifest.
	Manifest *Manifest
	// SkipHashCheck accepts a raw snapshot without etcd's appended hash
	// (a copy of a member's member/snap/db), as etcdutl's
	// --skip-hash-check does. Such a file cannot be checked for damage.
	SkipHashCheck bool
	// EncryptionKey decrypts an encrypted backup.
	EncryptionKey []byte
	// ExpectSHA256, when set, is the hex SHA-256 of the raw snapshot that
	// was verified before members were stopped (EtcdRestore
	// status.sha256): a snapshot with another checksum is refused
	// (ErrNotVerified), so that every member restores the very snapshot
	// that was verified even if the object was replaced meanwhile.
	ExpectSHA256 string

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
	// Manifest tells whether the snapshot came with Quorum's manifest;
	// EtcdHashChecked whether etcd's appended hash was there and matched.
	Manifest        bool `json:"manifest"`
	EtcdHashChecked bool `json:"etcdHashChecked"`
	// StorageVersion is the storage version recorded in the snapshot
	// (empty for etcd < 3.6).
	StorageVersion string `json:"storageVersion,omitempty"`
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
//  1. read and validate the manifest, if there is one; refuse a backup of
//     a newer etcd;
//  2. refuse a data dir that holds a member or files (unless Force); a data
//     dir holding exactly this restore already is left alone (Restored
//     false); without a manifest this is decided after step 3, once the
//     snapshot's SHA-256 is known;
//  3. download into a work dir next to the data dir, decrypting,
//     decompressing and hashing on the way; compare size and SHA-256 with
//     the manifest; check etcd's appended hash (refused when missing unless
//     SkipHashCheck); check the storage version recorded in the snapshot;
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
	m, err := loadManifest(ctx, o.Key, o.Manifest, o.EncryptionKey, st)
	if err != nil {
		return RestoreResult{}, err
	}
	res = RestoreResult{
		DataDir: dataDir, Name: o.Name, Location: st.Location(o.Key), Manifest: m != nil,
		BumpRevision: o.BumpRevision, MarkCompacted: o.MarkCompacted,
	}
	if m == nil && restoredUnderID(dataDir, o) {
		// An in-place restore's init container started again: done, no
		// need to read the snapshot to know its SHA-256.
		res.Message = "data dir already holds this restore; nothing done"
		return res, nil
	}
	if m != nil {
		res.SHA256 = m.SHA256
		if err := o.checkVerified(res.Location, m.SHA256); err != nil {
			return RestoreResult{}, err
		}
		if done, err := checkDataDir(dataDir, o, m.SHA256); err != nil || done {
			if done {
				res.Message = "data dir already holds this restore; nothing done"
			}
			return res, err
		}
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
	downloadStart := time.Now()
	got, err := download(ctx, st, fetchOptions{Key: o.Key, EncryptionKey: o.EncryptionKey, Manifest: m, SkipHashCheck: o.SkipHashCheck}, snapPath)
	if err != nil {
		return RestoreResult{}, err
	}
	res.SHA256, res.EtcdHashChecked = got.SHA256, got.HashChecked
	if err := o.checkVerified(res.Location, got.SHA256); err != nil {
		return RestoreResult{}, err
	}
	downloadTime := time.Since(downloadStart)
	lg.Info("snapshot downloaded and checked", zap.Int64("size", got.Size), zap.Duration("took", downloadTime.Round(time.Millisecond)),
		zap.Float64("mib-per-second", mibPerSecond(got.Size, downloadTime)))
	if !got.HashChecked {
		lg.Warn("restoring a snapshot without etcd's hash, as asked (skip hash check): it could not be checked for damage",
			zap.String("location", res.Location))
	}
	if m == nil {
		lg.Info("snapshot has no Quorum manifest: read as a raw etcd snapshot file", zap.String("location", res.Location),
			zap.String("sha256", got.SHA256), zap.Int64("size", got.Size))
		if done, err := checkDataDir(dataDir, o, got.SHA256); err != nil || done {
			if done {
				res.Message = "data dir already holds this restore; nothing done"
			}
			return res, err
		}
	}
	snapRev, storageVersion, err := inspectSnapshot(snapPath)
	if err != nil {
		return RestoreResult{}, err
	}
	res.StorageVersion = storageVersion
	if m != nil && m.EtcdRevisionMax > 0 && snapRev > m.EtcdRevisionMax {
		lg.Warn("snapshot revision above the manifest's bound", zap.Int64("snapshot-revision", snapRev),
			zap.Int64("manifest-max", m.EtcdRevisionMax))
	}
	res.SnapshotRevision = snapRev
	res.Revision = snapRev + int64(o.BumpRevision)

	out := filepath.Join(work, "data")
	restoreStart := time.Now()
	if err := etcdRestore(lg, o, snapPath, out); err != nil {
		return RestoreResult{}, fmt.Errorf("etcd restore: %w", err)
	}
	if err := writeMarker(out, restoreMarker{
		SHA256: got.SHA256, Location: res.Location, Name: o.Name, RestoreID: o.RestoreID,
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
	lg.Info("restore complete", zap.String("data-dir", dataDir), zap.Int64("revision", res.Revision),
		zap.Duration("etcd-restore", time.Since(restoreStart).Round(time.Millisecond)))
	return res, nil
}

// loadManifest returns the manifest of key (given, or stored under
// key+ManifestSuffix) after checking the etcd version and the encryption
// key it needs, or nil when there is none: the object is then a snapshot
// Quorum did not make, read as a raw etcd snapshot file.
func loadManifest(ctx context.Context, key string, given *Manifest, encryptionKey []byte, st Store) (*Manifest, error) {
	m, err := readManifest(ctx, key, given, st)
	if err != nil || m == nil {
		if err == nil && encryptionKey != nil {
			return nil, fmt.Errorf("an encryption key was given but %s has no manifest (%s): only a Quorum backup, with its manifest, "+
				"can be encrypted; a snapshot Quorum did not make must be the raw file `etcdctl snapshot save` writes, without a key",
				st.Location(key), st.Location(key+ManifestSuffix))
		}
		return nil, err
	}
	if err := CheckVersion(*m, BinaryEtcdVersion()); err != nil {
		return nil, err
	}
	if m.Encrypted && encryptionKey == nil {
		return nil, errors.New("the backup is encrypted: an encryption key file is required")
	}
	return m, nil
}

func readManifest(ctx context.Context, key string, given *Manifest, st Store) (*Manifest, error) {
	if given != nil {
		return given, given.Validate()
	}
	rc, err := st.Get(ctx, key+ManifestSuffix)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// restoredUnderID tells whether dataDir holds a member restored under
// o.RestoreID (an in-place restore already done), whatever the snapshot.
func restoredUnderID(dataDir string, o RestoreOptions) bool {
	if o.RestoreID == "" || !server.MemberInitialized(dataDir) {
		return false
	}
	mk, err := readMarker(dataDir)
	return err == nil && mk.RestoreID == o.RestoreID && mk.Name == o.Name
}

// checkDataDir decides whether the restore may go on. done is true when the
// data dir already holds this restore (the snapshot with SHA-256 sha).
func checkDataDir(dataDir string, o RestoreOptions, sha string) (done bool, err error) {
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
	if restoredUnderID(dataDir, o) {
		return true, nil
	}
	if member && !o.Force {
		if mk, err := readMarker(dataDir); err == nil && mk.SHA256 == sha && mk.Name == o.Name {
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

// download writes the raw snapshot to path and checks it (fetch) before
// anything else looks at it. The file is not synced: it is a scratch copy
// in the work dir, which a crash leaves to removeStale; what must survive
// is the database etcd's restore writes from it, which bbolt syncs when the
// restore commits its membership, and the WAL and snapshot etcd syncs.
// Syncing it too cost a second write of the whole snapshot to the disk
// (BenchmarkBackupRestore: download-s).
func download(ctx context.Context, st Store, o fetchOptions, path string) (fetched, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fetched{}, fmt.Errorf("creating %s: %w", path, err)
	}
	defer f.Close()
	got, err := fetch(ctx, st, o, f)
	if err != nil {
		return fetched{}, err
	}
	return got, f.Close()
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
		// etcd checks its appended hash again while it copies the file.
		SkipHashCheck: o.SkipHashCheck,
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

// ErrNotVerified: the snapshot is not the one verified before the restore
// (RestoreOptions.ExpectSHA256).
var ErrNotVerified = errors.New("the snapshot is not the one that was verified")

// checkVerified refuses a snapshot whose SHA-256 is not the verified one.
func (o RestoreOptions) checkVerified(location, sha string) error {
	if o.ExpectSHA256 == "" || strings.EqualFold(o.ExpectSHA256, sha) {
		return nil
	}
	return fmt.Errorf("%w: %s now has sha256 %s, verified %s; it was replaced after verification, and a member must not restore "+
		"what the others may not (verify it again with a new EtcdRestore)", ErrNotVerified, location, sha, o.ExpectSHA256)
}
