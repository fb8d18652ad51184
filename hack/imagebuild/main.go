// Command imagebuild assembles a single-layer, FROM-scratch OCI image from
// local files and writes it as a docker-style image tarball that
// `ctr images import` (and `docker load`) accept. It needs no registry and no
// container engine, which is how the local cluster gets its images.
//
// With --platform (repeatable) it builds the image once per platform and
// writes an OCI image-layout tarball holding one image index instead (see
// buildIndex in index.go); `ctr images import` accepts that too.
//
//	go run ./hack/imagebuild -o out.tar -t quorum.dev/pause:dev \
//	    --file bin/pause:/pause --entrypoint /pause \
//	    [--arg X ...] [--user 65532:65532] [--env K=V ...] [--dir /tmp:1777 ...]
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// Spec describes the image to build.
type Spec struct {
	Tag        string
	Files      []string // SRC:DEST; SRC may be a file or a directory (copied recursively)
	Dirs       []string // /path[:mode], mode in octal, default 0755
	Entrypoint []string
	Args       []string
	User       string
	Env        []string
	WorkDir    string
	Labels     []string // K=V
	// Platforms, each os/arch[/variant] (e.g. linux/arm64), make the output
	// an OCI image index with one image per platform; empty means one
	// linux/amd64 image in a docker-style tarball.
	Platforms []string
}

func main() {
	var (
		s          Spec
		out        string
		entrypoint string
		files      multi
		dirs       multi
		args       multi
		env        multi
		labels     multi
		platforms  multi
	)
	flag.StringVar(&out, "o", "", "output image tarball (required)")
	flag.StringVar(&s.Tag, "t", "", "image reference to tag the image with, e.g. quorum.dev/etcd:v3.7.3 (required)")
	flag.Var(&files, "file", "SRC:DEST, a local file or directory and its absolute path in the image (repeatable)")
	flag.StringVar(&entrypoint, "entrypoint", "", "absolute path of the entrypoint in the image")
	flag.Var(&args, "arg", "default argument (image Cmd) (repeatable)")
	flag.StringVar(&s.User, "user", "", "user[:group] the image runs as, e.g. 65532:65532")
	flag.Var(&env, "env", "K=V environment variable (repeatable)")
	flag.Var(&dirs, "dir", "/path[:octal mode] directory to create, e.g. /tmp:1777 (repeatable)")
	flag.StringVar(&s.WorkDir, "workdir", "", "working directory")
	flag.Var(&labels, "label", "K=V image label (repeatable)")
	flag.Var(&platforms, "platform", "os/arch[/variant], e.g. linux/arm64 (repeatable): write an OCI image-layout tarball holding an image index with one image per platform; {os} and {arch} in --file SRC name that platform's file")
	flag.Parse()
	if out == "" || s.Tag == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: imagebuild -o OUT.tar -t TAG --file SRC:DEST... --entrypoint /path [--arg X]... [--user U:G] [--env K=V]... [--dir /p:mode]... [--platform os/arch]...")
		os.Exit(2)
	}
	if entrypoint != "" {
		s.Entrypoint = []string{entrypoint}
	}
	s.Files, s.Dirs, s.Args, s.Env, s.Labels, s.Platforms = files, dirs, args, env, labels, platforms
	if err := Build(s, out); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

// Build writes the image described by s at out. With no s.Platforms it is a
// docker-style tarball of one linux/amd64 image (what `make images` and the
// local cluster use); with s.Platforms it is an OCI image-layout tarball of one
// image index (see buildIndex).
func Build(s Spec, out string) error {
	ref, err := name.NewTag(s.Tag, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("bad tag %q: %w", s.Tag, err)
	}
	if len(s.Platforms) > 0 {
		return buildIndex(s, ref, out)
	}
	img, err := image(s, v1.Platform{OS: "linux", Architecture: "amd64"}, false)
	if err != nil {
		return err
	}
	if err := mkParent(out); err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, out)
}

// image returns the single-layer image of s for plat: each --file SRC has
// {os} and {arch} replaced by plat's, and the config carries plat's os,
// architecture and variant. oci selects OCI media types (manifest, config,
// layer) instead of Docker's.
func image(s Spec, plat v1.Platform, oci bool) (v1.Image, error) {
	s.Files = expandFiles(s.Files, plat)
	layerTar, err := buildLayer(s)
	if err != nil {
		return nil, err
	}
	var lopts []tarball.LayerOption
	if oci {
		lopts = append(lopts, tarball.WithMediaType(types.OCILayer))
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, lopts...)
	if err != nil {
		return nil, err
	}
	base := empty.Image
	if oci {
		base = mutate.MediaType(mutate.ConfigMediaType(base, types.OCIConfigJSON), types.OCIManifestSchema1)
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = plat.OS
	cf.Architecture = plat.Architecture
	cf.Variant = plat.Variant
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Cmd = s.Args
	cf.Config.User = s.User
	cf.Config.WorkingDir = s.WorkDir
	cf.Config.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, s.Env...)
	if len(s.Labels) > 0 {
		cf.Config.Labels = map[string]string{}
		for _, l := range s.Labels {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				return nil, fmt.Errorf("bad --label %q, want K=V", l)
			}
			cf.Config.Labels[k] = v
		}
	}
	for _, e := range s.Env {
		if !strings.Contains(e, "=") {
			return nil, fmt.Errorf("bad --env %q, want K=V", e)
		}
	}
	return mutate.ConfigFile(img, cf)
}

// expandFiles replaces {os} and {arch} in the SRC part of each SRC:DEST.
func expandFiles(files []string, plat v1.Platform) []string {
	r := strings.NewReplacer("{os}", plat.OS, "{arch}", plat.Architecture)
	out := make([]string, len(files))
	for i, f := range files {
		src, dest, ok := strings.Cut(f, ":")
		if !ok {
			out[i] = f // buildLayer reports it
			continue
		}
		out[i] = r.Replace(src) + ":" + dest
	}
	return out
}

func mkParent(out string) error {
	if dir := filepath.Dir(out); dir != "" {
		return os.MkdirAll(dir, 0o755)
	}
	return nil
}

// entry is one thing to put in the layer.
type entry struct {
	mode os.FileMode // permission bits plus setuid/setgid/sticky
	dir  bool
	src  string // for files
}

// buildLayer returns an uncompressed tar holding every file and directory of s
// (with all parent directories), sorted by path, owned by root, with a fixed
// modification time so the same inputs give the same image digest.
func buildLayer(s Spec) ([]byte, error) {
	entries := map[string]entry{}
	addParents := func(p string) {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = entry{mode: 0o755, dir: true}
			}
		}
	}
	for _, d := range s.Dirs {
		p, modeStr, hasMode := strings.Cut(d, ":")
		mode := uint64(0o755)
		if hasMode {
			var err error
			if mode, err = strconv.ParseUint(modeStr, 8, 32); err != nil {
				return nil, fmt.Errorf("bad mode in --dir %q: %w", d, err)
			}
		}
		p, err := cleanAbs(p)
		if err != nil {
			return nil, fmt.Errorf("--dir %q: %w", d, err)
		}
		entries[p] = entry{mode: fromUnixMode(mode), dir: true}
		addParents(p)
	}
	for _, f := range s.Files {
		src, dest, ok := strings.Cut(f, ":")
		if !ok || src == "" {
			return nil, fmt.Errorf("bad --file %q, want SRC:DEST", f)
		}
		dest, err := cleanAbs(dest)
		if err != nil {
			return nil, fmt.Errorf("--file %q: %w", f, err)
		}
		err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := os.Stat(p) // follow symlinks: copy what they point at
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			target := path.Join(dest, filepath.ToSlash(rel))
			if info.IsDir() {
				if _, ok := entries[target]; !ok {
					entries[target] = entry{mode: info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), dir: true}
				}
			} else if info.Mode().IsRegular() {
				entries[target] = entry{mode: info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid), src: p}
			} else {
				return fmt.Errorf("%s: not a regular file or directory", p)
			}
			addParents(target)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if s.WorkDir != "" {
		if p, err := cleanAbs(s.WorkDir); err == nil {
			if _, ok := entries[p]; !ok {
				entries[p] = entry{mode: 0o755, dir: true}
				addParents(p)
			}
		}
	}

	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	for _, p := range paths {
		e := entries[p]
		hdr := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    toUnixMode(e.mode),
			ModTime: epoch,
			Format:  tar.FormatPAX,
		}
		if e.dir {
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
			if err := tw.WriteHeader(hdr); err != nil {
				return nil, err
			}
			continue
		}
		data, err := os.ReadFile(e.src)
		if err != nil {
			return nil, err
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func cleanAbs(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q in the image must be absolute", p)
	}
	p = path.Clean(p)
	if p == "/" {
		return "", fmt.Errorf("path must not be /")
	}
	return p, nil
}

// toUnixMode turns Go's file mode into the tar header's Unix mode bits.
func toUnixMode(m os.FileMode) int64 {
	u := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

func fromUnixMode(u uint64) os.FileMode {
	m := os.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
