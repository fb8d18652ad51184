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
	c := newCommand("prune", "Removes backups from a directory or an S3 bucket: <key>"+ManifestSuffix+" first (a snapshot without\n"+
		"manifest reads as incomplete), then <key>. One already gone is not an error, so a prune is safe to repeat.\n"+
		"Prints a JSON result as the last stdout line and writes it to "+DefaultTerminationLog+".", cio)
	var keys keyList
	sf := c.locationFlags()
	c.fs.Var(&keys, "key", "object key of a backup to remove; repeat it or separate keys with commas")
	c.bind("key", "QUORUM_BACKUP_KEY")
	if _, err := c.parse(args); err != nil {
		return c.usage(err)
	}
	if len(keys) == 0 {
		return c.usage(errors.New("no backup: give --key"))
	}
	for _, k := range keys {
		if err := ValidateKey(k); err != nil {
			return c.usage(err)
		}
	}
	st, err := sf.store(cio.Env)
	if err != nil {
		return c.usage(err)
	}
	rm, ok := st.(interface {
		Remove(ctx context.Context, key string) error
	})
	if !ok {
		return c.usage(fmt.Errorf("%T cannot remove objects", st))
	}
	return c.run(ctx, 0, func(ctx context.Context, lg *zap.Logger) ([]byte, error) {
		if err := st.Check(ctx, true); err != nil {
			return nil, err
		}
		removed := []string{}
		for _, k := range keys {
			// Manifest first: an interrupted prune leaves an incomplete
			// backup, never a manifest naming a missing snapshot.
			for _, obj := range []string{k + ManifestSuffix, k} {
				if err := rm.Remove(ctx, obj); err != nil {
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
