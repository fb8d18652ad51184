package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"quorum.dev/etcd-operator/etcdserver/server"
)

// UndoOptions name the in-place restore to undo on one member.
type UndoOptions struct {
	// DataDir is the member's data dir; Kept is where the in-place restore
	// moved the data dir it replaced (RestoreOptions.KeepReplaced), next
	// to it.
	DataDir, Kept string
	// Name is the member; RestoreID the in-place restore to undo.
	Name, RestoreID string
}

// UndoResult is what an undo did; printed as JSON.
type UndoResult struct {
	// Undone is false when there was nothing to undo.
	Undone  bool   `json:"undone"`
	Message string `json:"message"`
	DataDir string `json:"dataDir"`
}

// Undo puts back the data dir an in-place restore under o.RestoreID
// replaced, once: when the data dir holds this member restored under that
// ID (its RestoreMarkerFile says so), the restored data dir is removed and
// the kept one renamed into its place. A data dir that does not exist
// while a kept one does (a restore interrupted between its two renames)
// gets the kept one back too. Anything else is left alone (Undone false):
// a member whose restore failed before installing anything, or a second
// run after the undo (the kept data dir has no marker of this restore).
// A restored member with no kept data dir (its data dir was empty before
// the restore) gets an empty data dir back. Errors name the rename or
// removal that failed; the member's data is then as the error says and a
// second run picks up from there.
func Undo(lg *zap.Logger, o UndoOptions) (UndoResult, error) {
	if o.RestoreID == "" || o.DataDir == "" || o.Kept == "" || o.Name == "" {
		return UndoResult{}, errors.New("undo needs the restore ID, member name, data dir and kept data dir")
	}
	dataDir, kept := filepath.Clean(o.DataDir), filepath.Clean(o.Kept)
	if filepath.Dir(kept) != filepath.Dir(dataDir) {
		return UndoResult{}, fmt.Errorf("the kept data dir %s must be next to the data dir %s", kept, dataDir)
	}
	res := UndoResult{DataDir: dataDir}
	_, keptErr := os.Stat(kept)
	haveKept := keptErr == nil
	if _, err := os.Stat(dataDir); errors.Is(err, os.ErrNotExist) {
		if !haveKept {
			res.Message = "no data dir and no kept data dir: nothing to undo"
			return res, nil
		}
		return res, putBack(lg, kept, dataDir, &res)
	}
	if !restoredUnderID(dataDir, RestoreOptions{RestoreID: o.RestoreID, Name: o.Name}) {
		res.Message = "the data dir was not restored under this ID: nothing to undo"
		return res, nil
	}
	// Move the restored data dir aside first: a crash after this rename
	// leaves no data dir and the kept one, which the next run puts back.
	aside := filepath.Join(filepath.Dir(dataDir), "."+filepath.Base(dataDir)+".undone-"+o.RestoreID)
	if err := os.RemoveAll(aside); err != nil {
		return res, fmt.Errorf("removing %s: %w", aside, err)
	}
	if err := os.Rename(dataDir, aside); err != nil {
		return res, fmt.Errorf("moving the restored data dir aside: %w", err)
	}
	if !haveKept {
		if err := os.Mkdir(dataDir, 0o700); err != nil {
			return res, fmt.Errorf("creating an empty data dir: %w", err)
		}
		res.Undone, res.Message = true, "the member had no data before the restore: its data dir is empty again"
	} else if err := putBack(lg, kept, dataDir, &res); err != nil {
		return res, err
	}
	if err := os.RemoveAll(aside); err != nil {
		lg.Warn("removing the undone data dir", zap.String("dir", aside), zap.Error(err))
	}
	return res, nil
}

func putBack(lg *zap.Logger, kept, dataDir string, res *UndoResult) error {
	if err := os.Rename(kept, dataDir); err != nil {
		return fmt.Errorf("putting the kept data dir %s back: %w", kept, err)
	}
	if err := syncDir(filepath.Dir(dataDir)); err != nil {
		return err
	}
	res.Undone = true
	res.Message = "the data dir from before the restore is back"
	if !server.MemberInitialized(dataDir) {
		res.Message += " (it held no member)"
	}
	lg.Info("in-place restore undone", zap.String("data-dir", dataDir), zap.String("from", kept))
	return nil
}
