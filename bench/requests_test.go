package bench

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestResource(t *testing.T) {
	for path, want := range map[string]string{
		"/apis/apps/v1/namespaces/ns/statefulsets/x":                         "statefulsets",
		"/apis/etcd.quorum.dev/v1alpha1/namespaces/ns/etcdclusters/x/status": "etcdclusters/status",
		"/api/v1/namespaces/ns/secrets":                                      "secrets",
		"/api/v1/namespaces":                                                 "namespaces",
	} {
		if got := resource(path); got != want {
			t.Errorf("resource(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestRequestCounter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	rc := newRequestCounter()
	c := &http.Client{Transport: rc.wrap(http.DefaultTransport)}
	do := func(method, path string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	do(http.MethodGet, "/api/v1/namespaces/ns/secrets")
	before := rc.snapshot()
	do(http.MethodPatch, "/api/v1/namespaces/ns/secrets/a")
	do(http.MethodPatch, "/api/v1/namespaces/ns/secrets/b")
	do(http.MethodPost, "/apis/events.k8s.io/v1/namespaces/ns/events")
	do(http.MethodGet, "/api/v1/namespaces/ns/secrets/a")
	d := rc.snapshot().minus(before)
	if d.writes != 3 || d.reads != 1 {
		t.Errorf("writes, reads = %d, %d; want 3, 1", d.writes, d.reads)
	}
	if got, want := d.top(5), "PATCH secrets 2, POST events 1"; got != want {
		t.Errorf("top = %q, want %q", got, want)
	}
}
