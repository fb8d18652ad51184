package bench

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// requestCounter counts the API requests going through a rest.Config.
type requestCounter struct {
	mu sync.Mutex
	c  counts
}

// counts: writes are requests other than GET, HEAD and OPTIONS (lists and
// watches are GETs); byKind counts writes by "METHOD resource".
type counts struct {
	writes, reads int
	byKind        map[string]int
}

func newRequestCounter() *requestCounter {
	return &requestCounter{c: counts{byKind: map[string]int{}}}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// wrap fits rest.Config.Wrap.
func (rc *requestCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rc.mu.Lock()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			rc.c.reads++
		default:
			rc.c.writes++
			rc.c.byKind[r.Method+" "+resource(r.URL.Path)]++
		}
		rc.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (rc *requestCounter) snapshot() counts {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return counts{rc.c.writes, rc.c.reads, maps.Clone(rc.c.byKind)}
}

// minus is the difference c - old.
func (c counts) minus(old counts) counts {
	d := counts{c.writes - old.writes, c.reads - old.reads, map[string]int{}}
	for k, v := range c.byKind {
		if v -= old.byKind[k]; v != 0 {
			d.byKind[k] = v
		}
	}
	return d
}

// top lists the n most frequent kinds of writes, most frequent first.
func (c counts) top(n int) string {
	keys := slices.SortedFunc(maps.Keys(c.byKind), func(a, b string) int {
		return cmp.Or(cmp.Compare(c.byKind[b], c.byKind[a]), cmp.Compare(a, b))
	})
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf("%s %d", k, c.byKind[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// resource names the resource (and subresource) of an API path:
// /apis/apps/v1/namespaces/ns/statefulsets/x → statefulsets,
// .../etcdclusters/x/status → etcdclusters/status.
func resource(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		if p != "namespaces" || i+2 >= len(parts) {
			continue
		}
		if i+4 < len(parts) {
			return parts[i+2] + "/" + parts[i+4]
		}
		return parts[i+2]
	}
	return parts[len(parts)-1]
}
