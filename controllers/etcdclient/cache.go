package etcdclient

import (
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// ClientCache keeps one etcd client per cluster, replaced when the
// endpoints or the credentials change.
type ClientCache struct {
	// New creates clients; New unless a test sets another.
	New func(Config) (Client, error)

	mu      sync.Mutex
	entries map[types.NamespacedName]cacheEntry
}

type cacheEntry struct {
	key    string
	client Client
}

// NewClientCache returns an empty cache that connects with New.
func NewClientCache() *ClientCache {
	return &ClientCache{New: New, entries: map[types.NamespacedName]cacheEntry{}}
}

// Get returns the cached client for the cluster if it was made for the same
// endpoints and credentials version, or a new one.
func (c *ClientCache) Get(cluster types.NamespacedName, credsVersion string, cfg Config) (Client, error) {
	key := credsVersion + "|" + strings.Join(cfg.Endpoints, ",")
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[cluster]; ok {
		if e.key == key {
			return e.client, nil
		}
		_ = e.client.Close()
		delete(c.entries, cluster)
	}
	cl, err := c.New(cfg)
	if err != nil {
		return nil, err
	}
	c.entries[cluster] = cacheEntry{key: key, client: cl}
	return cl, nil
}

// Forget closes and drops the client of a cluster.
func (c *ClientCache) Forget(cluster types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[cluster]; ok {
		_ = e.client.Close()
		delete(c.entries, cluster)
	}
}
