package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"quorum.dev/etcd-operator/etcdserver/server"
	"quorum.dev/etcd-operator/internal/contract"
)

// RestoreMain is `quorum-etcd restore`.
func RestoreMain(ctx context.Context, args []string, cio IO) int {
	c := newCommand("restore", "Creates a member's data dir from a backup, verified against its manifest (when there is one)\n"+
		"and etcd's appended hash before the data dir is touched. A snapshot without manifest must be\n"+
		"the raw file of etcdctl snapshot save. Run it, with the same backup, on every member of the new cluster before\n"+
		"the members start. Prints a JSON result as the last stdout line and writes it to "+DefaultTerminationLog+".", cio)
	sf := c.storeFlags()
	var (
		manifestFile, dataDir, name, initialCluster, token, peerURLs string
		restoreID, keepReplaced, expectSHA256                        string
		bump                                                         uint64 = DefaultBumpRevision
		markCompacted, force, onlyNew, onlyActive, verifyOnly        bool
		skipHashCheck, undo                                          bool
		timeout                                                      time.Duration
	)
	fs := c.fs
	fs.StringVar(&manifestFile, "manifest-file", "", "local manifest to use instead of the stored <key>"+ManifestSuffix)
	c.bind("manifest-file", "QUORUM_MANIFEST_FILE")
	fs.StringVar(&dataDir, "data-dir", server.DefaultDataDir, "data dir to create (renamed into place: it must not itself be a mount point)")
	c.bind("data-dir", server.EnvDataDir)
	fs.StringVar(&name, "name", "", "member name")
	c.bind("name", server.EnvPodName)
	fs.StringVar(&initialCluster, "initial-cluster", "", "every member of the new cluster: name=peerURL,...")
	c.bind("initial-cluster", server.EnvInitialCluster)
	fs.StringVar(&token, "initial-cluster-token", "", "token of the new cluster")
	c.bind("initial-cluster-token", server.EnvClusterToken)
	fs.StringVar(&peerURLs, "initial-advertise-peer-urls", "", "this member's peer URLs (default: its entries in --initial-cluster)")
	c.bind("initial-advertise-peer-urls", "QUORUM_INITIAL_ADVERTISE_PEER_URLS")
	fs.Var(bumpValue{&bump}, "bump-revision", "add this to the snapshot's revision; 0 to keep it")
	c.bind("bump-revision", "QUORUM_BUMP_REVISION")
	fs.BoolVar(&markCompacted, "mark-compacted", true, "mark the bumped revision compacted (default true when the bump is > 0)")
	c.bind("mark-compacted", "QUORUM_MARK_COMPACTED")
	fs.BoolVar(&force, "force", false, "replace a data dir that already holds a member or files")
	c.bind("force", "QUORUM_RESTORE_FORCE")
	fs.DurationVar(&timeout, "timeout", time.Hour, "time limit of the whole restore; 0 for none")
	c.bind("timeout", "QUORUM_TIMEOUT")
	fs.BoolVar(&onlyNew, "only-new-cluster", false, "do nothing unless "+server.EnvInitialClusterState+" is new: as an init container, the restore\n"+
		"must not run on members that join the cluster after it has formed")
	fs.StringVar(&restoreID, "restore-id", "", "ID of an in-place restore: recorded in the data dir, and a data dir already\n"+
		"restored under this ID is left alone (even with --force)")
	fs.StringVar(&keepReplaced, "keep-replaced", "", "with --force, move the replaced data dir here (next to the data dir) instead of deleting it")
	fs.BoolVar(&onlyActive, "only-active-restore", false, "do nothing unless $"+EnvActiveRestoreID+" equals --restore-id: as an init container,\n"+
		"the in-place restore must not run on members created after it finished")
	fs.BoolVar(&skipHashCheck, "skip-hash-check", false, "accept a raw snapshot without etcd's appended SHA-256 (a copy of a member's\n"+
		"member/snap/db): it cannot be checked for damage; as etcdutl snapshot restore --skip-hash-check")
	c.bind("skip-hash-check", "QUORUM_SKIP_HASH_CHECK")
	fs.StringVar(&expectSHA256, "expect-sha256", "", "hex SHA-256 of the raw snapshot verified earlier: another snapshot at the key is refused")
	fs.BoolVar(&verifyOnly, "verify-only", false, "only check the backup (manifest, version, key, size, checksum, etcd's hash); write nothing\n"+
		"(a snapshot without manifest is checked through a temporary copy under $TMPDIR)")
	fs.BoolVar(&undo, "undo", false, "put back the data dir that the in-place restore --restore-id replaced (kept at --keep-replaced),\n"+
		"once; a data dir not restored under that ID is left alone (see Undo)")
	set, err := c.parse(args)
	if err != nil {
		return c.usage(err)
	}
	if undo {
		return c.undo(ctx, UndoOptions{DataDir: dataDir, Kept: keepReplaced, Name: name, RestoreID: restoreID})
	}
	if verifyOnly {
		return c.verify(ctx, sf, manifestFile, skipHashCheck, timeout)
	}
	if onlyActive {
		if active, _ := cio.Env(EnvActiveRestoreID); restoreID == "" || active != restoreID {
			return c.succeed([]byte(`{"restored":false,"reason":"no in-place restore under this ID is in progress"}`))
		}
	}
	if onlyNew {
		if state, _ := cio.Env(server.EnvInitialClusterState); state != "new" {
			return c.succeed([]byte(`{"restored":false,"reason":"the cluster has formed: members join it instead of restoring"}`))
		}
	}
	if bump == 0 && !set["mark-compacted"] {
		markCompacted = false
	}
	o := RestoreOptions{
		Key: sf.key, DataDir: dataDir, Name: name, InitialCluster: initialCluster, InitialClusterToken: token,
		PeerURLs: splitList(peerURLs), BumpRevision: bump, MarkCompacted: markCompacted, Force: force,
		RestoreID: restoreID, KeepReplaced: keepReplaced, SkipHashCheck: skipHashCheck, ExpectSHA256: expectSHA256,
	}
	if len(o.PeerURLs) == 0 {
		o.PeerURLs = PeerURLsOf(initialCluster, name)
	}
	if err := o.validate(); err != nil {
		return c.usage(err)
	}
	st, err := sf.store(cio.Env)
	if err != nil {
		return c.usage(err)
	}
	if o.Manifest, err = readManifestFile(manifestFile); err != nil {
		return c.fail(ExitFailure, err)
	}
	if o.EncryptionKey, err = sf.encryptionKey(); err != nil {
		return c.fail(ExitFailure, err)
	}
	return c.run(ctx, timeout, func(ctx context.Context, lg *zap.Logger) ([]byte, error) {
		res, err := Restore(ctx, lg, o, st)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(res)
		if err != nil {
			return nil, errors.New("encoding the result")
		}
		return b, nil
	})
}

// EnvActiveRestoreID holds the ID of the in-place restore in progress (the
// operator sets it from the cluster ConfigMap), for --only-active-restore.
const EnvActiveRestoreID = contract.EnvActiveRestoreID

// verify is `quorum-etcd restore --verify-only`.
func (c *command) verify(ctx context.Context, sf *storeFlags, manifestFile string, skipHashCheck bool, timeout time.Duration) int {
	if err := ValidateKey(sf.key); err != nil {
		return c.usage(err)
	}
	st, err := sf.store(c.io.Env)
	if err != nil {
		return c.usage(err)
	}
	m, err := readManifestFile(manifestFile)
	if err != nil {
		return c.fail(ExitFailure, err)
	}
	key, err := sf.encryptionKey()
	if err != nil {
		return c.fail(ExitFailure, err)
	}
	return c.run(ctx, timeout, func(ctx context.Context, lg *zap.Logger) ([]byte, error) {
		res, err := Verify(ctx, lg, VerifyOptions{Key: sf.key, Manifest: m, EncryptionKey: key, SkipHashCheck: skipHashCheck}, st)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(res)
		if err != nil {
			return nil, errors.New("encoding the result")
		}
		return b, nil
	})
}

// undo is `quorum-etcd restore --undo`.
func (c *command) undo(ctx context.Context, o UndoOptions) int {
	if o.RestoreID == "" || o.Name == "" || o.Kept == "" {
		return c.usage(errors.New("--undo needs --restore-id, --name and --keep-replaced"))
	}
	return c.run(ctx, 0, func(_ context.Context, lg *zap.Logger) ([]byte, error) {
		res, err := Undo(lg, o)
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	})
}

func readManifestFile(path string) (*Manifest, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifest file: %w", err)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, err
	}
	return &m, nil
}
