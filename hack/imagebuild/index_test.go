package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestBuildIndexRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, arch := range []string{"amd64", "arm64"} {
		if err := os.WriteFile(filepath.Join(dir, "server-"+arch), []byte("server for "+arch), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out", "index.tar")
	spec := Spec{
		Tag:        "quorum.dev/test:v1",
		Files:      []string{filepath.Join(dir, "server-{arch}") + ":/usr/local/bin/server"},
		Dirs:       []string{"/tmp:1777"},
		Entrypoint: []string{"/usr/local/bin/server"},
		User:       "65532:65532",
		Platforms:  []string{"linux/amd64", "linux/arm64"},
	}
	if err := Build(spec, out); err != nil {
		t.Fatal(err)
	}

	top := readLayout(t, out)
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index.json lists %d descriptors, want 1", len(im.Manifests))
	}
	d := im.Manifests[0]
	if d.MediaType != types.OCIImageIndex {
		t.Errorf("index.json descriptor media type = %s, want %s", d.MediaType, types.OCIImageIndex)
	}
	wantAnn := map[string]string{annotationRefName: "v1", annotationImageName: "quorum.dev/test:v1"}
	if !reflect.DeepEqual(d.Annotations, wantAnn) {
		t.Errorf("annotations = %v, want %v", d.Annotations, wantAnn)
	}
	idx, err := top.ImageIndex(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	got := platformFiles(t, idx, "usr/local/bin/server")
	want := map[string]string{"linux/amd64": "server for amd64", "linux/arm64": "server for arm64"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("per-platform files = %q, want %q", got, want)
	}

	// Same inputs, same bytes.
	out2 := filepath.Join(dir, "out", "index2.tar")
	if err := Build(spec, out2); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(out)
	b2, _ := os.ReadFile(out2)
	if !bytes.Equal(b1, b2) {
		t.Error("two builds of the same index differ")
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "out")); len(ents) != 2 {
		t.Errorf("output dir holds %d entries, want the 2 tarballs (no leftover layout)", len(ents))
	}
}

// TestBuildIndexCrossCompiled packs a real Go program cross-compiled for each
// platform and checks the ELF machine of the file in each platform's layer.
func TestBuildIndexCrossCompiled(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.25\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	for _, arch := range []string{"amd64", "arm64"} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "hello-"+arch), ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("GOARCH=%s go build: %v\n%s", arch, err, b)
		}
	}
	out := filepath.Join(dir, "hello.tar")
	err := Build(Spec{
		Tag:        "quorum.dev/hello:v1",
		Files:      []string{filepath.Join(dir, "hello-{arch}") + ":/hello"},
		Entrypoint: []string{"/hello"},
		Platforms:  []string{"linux/arm64", "linux/amd64"},
	}, out)
	if err != nil {
		t.Fatal(err)
	}
	top := readLayout(t, out)
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := top.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	machines := map[string]elf.Machine{}
	for plat, body := range platformFiles(t, idx, "hello") {
		f, err := elf.NewFile(strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s: /hello is not ELF: %v", plat, err)
		}
		machines[plat] = f.Machine
	}
	want := map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64": elf.EM_AARCH64}
	if !reflect.DeepEqual(machines, want) {
		t.Errorf("ELF machines = %v, want %v", machines, want)
	}
}

func TestBuildIndexErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f-amd64"), []byte("x"), 0o755)
	f := filepath.Join(dir, "f-{arch}") + ":/f"
	for name, s := range map[string]Spec{
		"file missing for one platform": {Tag: "x:1", Files: []string{f}, Platforms: []string{"linux/amd64", "linux/arm64"}},
		"platform twice":                {Tag: "x:1", Files: []string{f}, Platforms: []string{"linux/amd64", "linux/amd64"}},
		"no architecture":               {Tag: "x:1", Files: []string{f}, Platforms: []string{"linux"}},
		"bad env":                       {Tag: "x:1", Files: []string{f}, Env: []string{"NOEQUALS"}, Platforms: []string{"linux/amd64"}},
	} {
		out := filepath.Join(dir, "o.tar")
		if err := Build(s, out); err == nil {
			t.Errorf("%s: Build succeeded, want error", name)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: failed build left %s", name, out)
		}
	}
}

// readLayout unpacks the OCI image-layout tarball at path and returns its
// index.json as an index.
func readLayout(t *testing.T, path string) v1.ImageIndex {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// platformFiles checks that every manifest of idx is an OCI single-layer image
// whose config os/architecture match its descriptor's platform, and returns
// each platform's content of file (a path in the layer, no leading slash).
func platformFiles(t *testing.T, idx v1.ImageIndex, file string) map[string]string {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range im.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		plat := d.Platform.String()
		if d.MediaType != types.OCIManifestSchema1 {
			t.Errorf("%s: media type %s", plat, d.MediaType)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != d.Platform.OS || cf.Architecture != d.Platform.Architecture {
			t.Errorf("%s: config says %s/%s", plat, cf.OS, cf.Architecture)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(layers) != 1 {
			t.Fatalf("%s: %d layers, want 1", plat, len(layers))
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Name == file {
				b, _ := io.ReadAll(tr)
				out[plat] = string(b)
			}
		}
		rc.Close()
	}
	return out
}
