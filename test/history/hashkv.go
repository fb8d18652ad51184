package history

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// HashKVReport is the members' KV hashes at one revision.
type HashKVReport struct {
	Revision int64
	Hashes   map[string]uint32 // endpoint -> hash
	Equal    bool
}

func (r HashKVReport) String() string {
	eps := make([]string, 0, len(r.Hashes))
	for ep := range r.Hashes {
		eps = append(eps, ep)
	}
	sort.Strings(eps)
	parts := make([]string, len(eps))
	for i, ep := range eps {
		parts[i] = fmt.Sprintf("%s=%08x", ep, r.Hashes[ep])
	}
	return fmt.Sprintf("hashes at revision %d (equal %v): %s", r.Revision, r.Equal, strings.Join(parts, " "))
}

// HashKVEqual compares the KV hash of every endpoint at one revision: the
// highest revision any member reports. It retries until every member has
// reached that revision with the same compaction, or ctx ends.
func HashKVEqual(ctx context.Context, c *clientv3.Client, endpoints []string) (HashKVReport, error) {
	if len(endpoints) == 0 {
		return HashKVReport{}, errors.New("no endpoints to compare")
	}
	for {
		rep, err := hashOnce(ctx, c, endpoints)
		if err == nil {
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return rep, fmt.Errorf("comparing HashKV of %v: %w (last attempt: %v)", endpoints, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// hashOnce hashes every endpoint at the highest revision. Its errors,
// including members disagreeing on compaction, may pass with time.
func hashOnce(ctx context.Context, c *clientv3.Client, endpoints []string) (HashKVReport, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rep := HashKVReport{Hashes: map[string]uint32{}}
	for _, ep := range endpoints {
		st, err := c.Maintenance.Status(ctx, ep)
		if err != nil {
			return rep, fmt.Errorf("status of %s: %w", ep, err)
		}
		rep.Revision = max(rep.Revision, st.Header.Revision)
	}
	compacted := map[int64]bool{}
	for _, ep := range endpoints {
		// A member behind rep.Revision answers "future revision"; retry.
		h, err := c.Maintenance.HashKV(ctx, ep, rep.Revision)
		if err != nil {
			return rep, fmt.Errorf("HashKV of %s at revision %d: %w", ep, rep.Revision, err)
		}
		rep.Hashes[ep] = h.Hash
		compacted[h.CompactRevision] = true
	}
	if len(compacted) > 1 {
		return rep, fmt.Errorf("members report different compaction revisions at revision %d", rep.Revision)
	}
	rep.Equal = true
	for _, h := range rep.Hashes {
		rep.Equal = rep.Equal && h == rep.Hashes[endpoints[0]]
	}
	return rep, nil
}
