package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/etcdserver/configkeys"
	"quorum.dev/etcd-operator/etcdserver/server"
)

// The generated files are what the generator writes now (`make verify`
// checks the same after `make generate`).
func TestGeneratedFilesAreCurrent(t *testing.T) {
	zones, err := timeZones()
	if err != nil {
		t.Fatal(err)
	}
	g := Generate(EtcdKeys(), configkeys.RefusedInSpec(), zones)
	dir := filepath.Join("..", "..", "api", "v1alpha1")
	src, err := g.GoFile()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "zz_generated.admission.go")); !bytes.Equal(got, src) {
		t.Error("api/v1alpha1/zz_generated.admission.go is stale: run make generate")
	}
	for file, blocks := range g.MarkerBlocks() {
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		want := got
		for name, lines := range blocks {
			if want, err = replaceBlock(want, name, lines); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("generated markers in api/v1alpha1/%s are stale: run make generate", file)
		}
	}
}

// sample is a value etcd accepts for a string option (most take anything).
var sample = map[string]string{
	"log-level":                   "warn",
	"feature-gates":               "",
	"auth-token":                  "simple",
	"backend-bbolt-freelist-type": "map",
	"metrics":                     "extensive",
	"tls-min-version":             "TLS1.2",
	"tls-max-version":             "TLS1.3",
	"v2-deprecation":              "write-only",
	"cors":                        "*",
	"host-whitelist":              "example.com",
}

// Every key the CRD allows, rendered by the operator with a value of its
// kind, is loaded by quorum-etcd's own option check and etcd's parser: the
// allow-list and the renderer agree with the server.
func TestEveryAllowedKeyLoadsInQuorumEtcd(t *testing.T) {
	keys := etcdv1.EtcdOptionKeys()
	if len(keys) < 30 {
		t.Fatalf("only %d keys allowed", len(keys))
	}
	for _, k := range keys {
		v, ok := sample[k]
		switch {
		case etcdv1.EtcdOptionIsBool(k):
			v = "true"
		case etcdv1.EtcdOptionIsNumber(k) && k == "election-timeout":
			v = "1000" // at least five heartbeats
		case etcdv1.EtcdOptionIsNumber(k):
			v = "100"
		case !ok:
			v = "x"
		}
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: etcdv1.EtcdClusterSpec{EtcdOptions: map[string]string{k: v}}}
		path := filepath.Join(t.TempDir(), "etcd.yaml")
		if err := os.WriteFile(path, []byte(render.EtcdOptions(c)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := server.LoadOptions(path); err != nil {
			t.Errorf("%s: %q: %v", k, v, err)
		}
	}
}

// Every key the operator refuses is refused by the allow-list too.
func TestRefusedKeysAreNotAllowed(t *testing.T) {
	allowed := map[string]bool{}
	for _, k := range etcdv1.EtcdOptionKeys() {
		allowed[k] = true
	}
	for k := range configkeys.RefusedInSpec() {
		if allowed[k] {
			t.Errorf("%s is both allowed and refused", k)
		}
	}
}
