package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/features"
	"go.etcd.io/etcd/server/v3/storage/datadir"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"

	"quorum.dev/etcd-operator/internal/contract"
)

// Corrupt data (etcd op-guide/data_corruption). A member singles itself
// out in one of two ways:
//
//   - it refuses to start: etcd's initial corruption check (feature gate
//     InitialCorruptCheck, turned on here) finds its key-value hash
//     different from its peers' at the same revision and compaction, or its
//     backend file cannot be opened (checked before etcd starts, see
//     checkBackend). Run then fails with contract.DataCorruptMessage, and
//     a marker file (CorruptMarkerFile) is left in the data dir;
//   - the CORRUPT alarm names it: the leader's compaction hash check
//     (feature gate CompactHashCheck, turned on here) found it in the
//     minority. The alarm is stored in every member's backend, its own
//     included.
//
// The operator removes such a member by ID. On its next start the member
// finds itself no longer listed (planRestart); with either sign of
// corruption its data dir is moved to <data dir>.corrupt-<UTC time>
// (setAsideCorrupt) instead of <data dir>.stale, and it joins again as
// the learner the operator adds. Only the newest corrupt copy is kept:
// it takes as much room as the database, which defragmentation and a
// snapshot from the leader also need on the volume.

// CorruptMarkerFile is written in the data dir of a member that refused
// to start for corrupt data; it holds the reason. It moves aside with
// the data.
const CorruptMarkerFile = "quorum-data-corrupt"

// corruptionGates are the feature gates of etcd's corruption checks that
// quorum-etcd turns on unless the options file sets them.
var corruptionGates = []string{string(features.InitialCorruptCheck), string(features.CompactHashCheck)}

// enableCorruptionChecks turns on etcd's initial and compaction hash
// checks, except those the options file's feature-gates set either way.
func enableCorruptionChecks(cfg *embed.Config) error {
	set := cfg.ServerFeatureGate.String() // only gates set explicitly
	m := map[string]bool{}
	for _, g := range corruptionGates {
		if !strings.Contains(set, g+"=") {
			m[g] = true
		}
	}
	if len(m) == 0 {
		return nil
	}
	fg, ok := cfg.ServerFeatureGate.(interface{ SetFromMap(map[string]bool) error })
	if !ok {
		return errors.New("etcd's feature gate cannot be set")
	}
	if err := fg.SetFromMap(m); err != nil {
		return fmt.Errorf("turning on etcd's corruption checks: %w", err)
	}
	return nil
}

// isCorruptionError reports whether etcd failed to start because its
// initial corruption check found the data inconsistent with its peers
// (server/etcdserver/corrupt.go InitialCheck).
func isCorruptionError(err error) bool {
	return err != nil && strings.Contains(err.Error(), "found data inconsistency with peers")
}

// checkBackend opens the member's backend file read-only, as etcd will,
// and reports an error when bbolt refuses it (damaged meta pages, a
// truncated file). A missing file or a lock held elsewhere is not
// corruption: nil.
func checkBackend(dataDir string) (err error) {
	path := datadir.ToBackendFileName(dataDir)
	if _, statErr := os.Stat(path); statErr != nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("opening %s: bbolt panicked: %v", path, p)
		}
	}()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	return db.Close()
}

// localCorruptAlarm reports whether the member's own backend holds a
// CORRUPT alarm naming member id (etcd's "alarm" bucket: each key is an
// AlarmMember, field 1 the member ID, field 2 the alarm type, CORRUPT =
// 2). A backend that cannot be read counts as corrupt.
func localCorruptAlarm(dataDir string, id uint64) (found bool, err error) {
	path := datadir.ToBackendFileName(dataDir)
	if _, statErr := os.Stat(path); statErr != nil {
		return false, nil
	}
	defer func() {
		if p := recover(); p != nil {
			found, err = true, fmt.Errorf("reading the alarms of %s: bbolt panicked: %v", path, p)
		}
	}()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return !errors.Is(err, bolt.ErrTimeout), fmt.Errorf("opening %s: %w", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("alarm"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			member, alarm := decodeAlarmMember(k)
			if member == id && alarm == alarmCorrupt {
				found = true
			}
			return nil
		})
	})
	return found, err
}

// alarmCorrupt is etcdserverpb.AlarmType_CORRUPT.
const alarmCorrupt = 2

// decodeAlarmMember reads an etcdserverpb.AlarmMember (field 1 MemberID,
// field 2 Alarm, both varints) without the generated type, which differs
// between the etcd versions this package builds with.
func decodeAlarmMember(b []byte) (member, alarm uint64) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, 0
		}
		b = b[n:]
		if typ != protowire.VarintType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return 0, 0
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return 0, 0
		}
		b = b[n:]
		switch num {
		case 1:
			member = v
		case 2:
			alarm = v
		}
	}
	return member, alarm
}

// dataCorrupt records that the member in s.DataDir refuses to start for
// corrupt data: the marker file in its data dir, and an error whose text
// is contract.DataCorruptMessage (main writes it as the termination
// message, the operator reads it).
func dataCorrupt(lg *zap.Logger, s Settings, why string) error {
	var id uint64
	if local, err := ReadLocalMember(lg, s.DataDir); err == nil {
		id = local.ID
	}
	marker := filepath.Join(s.DataDir, CorruptMarkerFile)
	body := fmt.Sprintf("%s\n%s\n", time.Now().UTC().Format(time.RFC3339), why)
	if err := os.WriteFile(marker, []byte(body), 0o600); err != nil {
		lg.Warn("writing the corrupt-data marker", zap.String("path", marker), zap.Error(err))
	}
	msg := contract.DataCorruptMessage(id, why) +
		"; the operator removes this member and it joins again with its data set aside as " + s.DataDir + contract.CorruptSetAsideSuffix + "<time>"
	lg.Error("member data corrupt: refusing to start", zap.String("reason", why), zap.String("data-dir", s.DataDir))
	return errors.New(msg)
}

// corruptEvidence says why the data in dataDir of member id is known
// corrupt, or "" if it is not: the marker of a start refused for
// corruption, or a CORRUPT alarm naming the member in its own backend.
func corruptEvidence(lg *zap.Logger, dataDir string, id uint64) string {
	if b, err := os.ReadFile(filepath.Join(dataDir, CorruptMarkerFile)); err == nil {
		return "it refused to start: " + strings.Join(strings.Fields(string(b)), " ")
	}
	found, err := localCorruptAlarm(dataDir, id)
	if err != nil {
		lg.Warn("reading this member's alarms from its backend", zap.Error(err))
	}
	if found {
		if err != nil {
			return fmt.Sprintf("its backend cannot be read (%v)", err)
		}
		return fmt.Sprintf("the CORRUPT alarm names member %x", id)
	}
	return ""
}

// setAsideCorrupt renames dataDir to dataDir.corrupt-<UTC time>, removes
// older corrupt copies (only the newest is kept) and syncs the parent
// directory. It returns the new path.
func setAsideCorrupt(dataDir string, now time.Time) (string, error) {
	dir := filepath.Clean(dataDir)
	dst := dir + contract.CorruptSetAsideSuffix + now.UTC().Format("20060102T150405Z")
	if err := os.RemoveAll(dst); err != nil {
		return "", fmt.Errorf("removing %s: %w", dst, err)
	}
	if err := os.Rename(dir, dst); err != nil {
		return "", fmt.Errorf("renaming %s to %s: %w", dir, dst, err)
	}
	older, _ := filepath.Glob(dir + contract.CorruptSetAsideSuffix + "*")
	sort.Strings(older)
	for _, o := range older {
		if o != dst {
			if err := os.RemoveAll(o); err != nil {
				return dst, fmt.Errorf("removing the older corrupt copy %s: %w", o, err)
			}
		}
	}
	parent, err := os.Open(filepath.Dir(dir))
	if err != nil {
		return dst, fmt.Errorf("opening %s to sync it: %w", filepath.Dir(dir), err)
	}
	defer parent.Close()
	if err := parent.Sync(); err != nil {
		return dst, fmt.Errorf("syncing %s: %w", filepath.Dir(dir), err)
	}
	return dst, nil
}
