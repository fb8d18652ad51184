package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"quorum.dev/etcd-operator/internal/contract"
)

// PruneMain is `quorum-etcd prune`.
func PruneMain(ctx context.Context, args []string, cio IO) int {
	c := newCommand("prune", "Removes backups from a directory: <key>"+ManifestSuffix+" first (a snapshot without manifest\n"+
		"reads as incomplete), then <key>. A file already gone is not an error, so a prune is safe to repeat.\n"+
		"Prints a JSON result as the last stdout line and writes it to "+DefaultTerminationLog+".", cio)
	var (
		dir  string
		keys keyList
	)
	c.fs.StringVar(&dir, "dir", "", "directory (e.g. a mounted PVC) holding backups as <dir>/<key>")
	c.bind("dir", "QUORUM_BACKUP_DIR")
	c.fs.Var(&keys, "key", "object key of a backup to remove; repeat it or separate keys with commas")
	c.bind("key", "QUORUM_BACKUP_KEY")
	if _, err := c.parse(args); err != nil {
		return c.usage(err)
	}
	if dir == "" {
		return c.usage(errors.New("no directory: give --dir"))
	}
	if len(keys) == 0 {
		return c.usage(errors.New("no backup: give --key"))
	}
	for _, k := range keys {
		if err := ValidateKey(k); err != nil {
			return c.usage(err)
		}
	}
	st := DirStore{Dir: dir}
	return c.run(ctx, 0, func(ctx context.Context, lg *zap.Logger) ([]byte, error) {
		if err := st.Check(ctx, true); err != nil {
			return nil, err
		}
		removed := []string{}
		for _, k := range keys {
			// Manifest first: an interrupted prune leaves an incomplete
			// backup, never a manifest naming a missing snapshot.
			for _, obj := range []string{k + ManifestSuffix, k} {
				if err := st.Remove(ctx, obj); err != nil {
					return nil, fmt.Errorf("removing backup %s: %w", k, err)
				}
			}
			lg.Info("removed backup", zap.String("key", k), zap.String("location", st.Location(k)))
			removed = append(removed, k)
		}
		return json.Marshal(contract.PruneReport{Removed: removed})
	})
}

// keyList is a repeatable flag.Value of object keys; each value may hold
// several, comma-separated.
type keyList []string

func (l *keyList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *keyList) Set(s string) error {
	*l = append(*l, splitList(s)...)
	return nil
}
