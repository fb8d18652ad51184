package main

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestBuildRoundTrip(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "server")
	if err := os.WriteFile(bin, []byte("#!binary\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "conf")
	if err := os.MkdirAll(filepath.Join(conf, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "sub", "a.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "img.tar")
	spec := Spec{
		Tag:        "quorum.dev/test:v1",
		Files:      []string{bin + ":/usr/local/bin/server", conf + ":/etc/server"},
		Dirs:       []string{"/tmp:1777", "/data:700"},
		Entrypoint: []string{"/usr/local/bin/server"},
		Args:       []string{"--port", "8080"},
		User:       "65532:65532",
		Env:        []string{"FOO=bar"},
	}
	if err := Build(spec, out); err != nil {
		t.Fatal(err)
	}

	tag, _ := name.NewTag("quorum.dev/test:v1")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("got %d layers, want 1", len(layers))
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform = %s/%s", cf.OS, cf.Architecture)
	}
	if !reflect.DeepEqual(cf.Config.Entrypoint, []string{"/usr/local/bin/server"}) {
		t.Errorf("entrypoint = %q", cf.Config.Entrypoint)
	}
	if !reflect.DeepEqual(cf.Config.Cmd, []string{"--port", "8080"}) {
		t.Errorf("cmd = %q", cf.Config.Cmd)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user = %q", cf.Config.User)
	}
	if !contains(cf.Config.Env, "FOO=bar") {
		t.Errorf("env = %q", cf.Config.Env)
	}
	if len(cf.RootFS.DiffIDs) != 1 {
		t.Errorf("diff ids = %v", cf.RootFS.DiffIDs)
	}

	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	type got struct {
		mode int64
		typ  byte
		body string
	}
	files := map[string]got{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = got{mode: h.Mode, typ: h.Typeflag, body: string(b)}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s owned by %d:%d", h.Name, h.Uid, h.Gid)
		}
	}
	want := map[string]got{
		"usr/":                 {0o755, tar.TypeDir, ""},
		"usr/local/":           {0o755, tar.TypeDir, ""},
		"usr/local/bin/":       {0o755, tar.TypeDir, ""},
		"usr/local/bin/server": {0o755, tar.TypeReg, "#!binary\n"},
		"etc/":                 {0o755, tar.TypeDir, ""},
		"etc/server/":          {0o755, tar.TypeDir, ""},
		"etc/server/sub/":      {0o755, tar.TypeDir, ""},
		"etc/server/sub/a.txt": {0o644, tar.TypeReg, "hello"},
		"tmp/":                 {0o1777, tar.TypeDir, ""},
		"data/":                {0o700, tar.TypeDir, ""},
	}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("layer contents:\n got %v\nwant %v", files, want)
	}

	// Same inputs, same image.
	out2 := filepath.Join(dir, "img2.tar")
	if err := Build(spec, out2); err != nil {
		t.Fatal(err)
	}
	img2, err := tarball.ImageFromPath(out2, &tag)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := img2.Digest()
	if d1 != d2 {
		t.Errorf("not reproducible: %s vs %s", d1, d2)
	}
}

func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	for _, s := range []Spec{
		{Tag: "x:1", Files: []string{"nosuchfile:/a"}},
		{Tag: "x:1", Files: []string{dir + ":relative"}},
		{Tag: "x:1", Dirs: []string{"/tmp:99z"}},
		{Tag: "x:1", Env: []string{"NOEQUALS"}},
		{Tag: "bad tag with spaces"},
	} {
		if err := Build(s, filepath.Join(dir, "o.tar")); err == nil {
			t.Errorf("Build(%+v) succeeded, want error", s)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
