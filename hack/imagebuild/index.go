package main

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Annotations on the index's descriptor in index.json, which name the image
// when the tarball is imported.
const (
	// annotationRefName is the OCI image-layout name: the tag alone
	// (image-spec annotations.md, "org.opencontainers.image.ref.name").
	annotationRefName = "org.opencontainers.image.ref.name"
	// annotationImageName is containerd's full image name, which
	// `ctr images import` reads before the OCI one.
	annotationImageName = "io.containerd.image.name"
)

// buildIndex writes s as an OCI image-layout tarball at out: oci-layout,
// index.json and blobs/sha256/…. index.json lists one descriptor, an OCI image
// index annotated with ref's tag (annotationRefName) and full name
// (annotationImageName); that index lists one single-layer image per entry of
// s.Platforms, its descriptor carrying the platform and its config the same
// os/architecture/variant. Errors: a platform that does not parse or appears
// twice, and everything image reports (e.g. a missing --file SRC for one
// platform).
func buildIndex(s Spec, ref name.Tag, out string) error {
	var idx v1.ImageIndex = empty.Index
	seen := map[string]bool{}
	for _, p := range s.Platforms {
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			return fmt.Errorf("bad --platform %q: %w", p, err)
		}
		if plat.OS == "" || plat.Architecture == "" {
			return fmt.Errorf("bad --platform %q, want os/arch[/variant]", p)
		}
		if seen[plat.String()] {
			return fmt.Errorf("--platform %s given twice", plat)
		}
		seen[plat.String()] = true
		img, err := image(s, *plat, true)
		if err != nil {
			return fmt.Errorf("platform %s: %w", plat, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: plat},
		})
	}
	top := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{
		Add: idx,
		Descriptor: v1.Descriptor{Annotations: map[string]string{
			annotationRefName:   ref.TagStr(),
			annotationImageName: ref.String(),
		}},
	})

	if err := mkParent(out); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(filepath.Dir(out), ".imagebuild-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if _, err := layout.Write(dir, top); err != nil {
		return fmt.Errorf("writing image layout: %w", err)
	}
	tmp := out + ".tmp"
	if err := tarDir(dir, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return os.Rename(tmp, out)
}

// tarDir writes the tree under dir as an uncompressed tar at out, in lexical
// order, owned by root, files 0644 and directories 0755, with a fixed
// modification time, so the same layout gives the same bytes.
func tarDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	epoch := time.Unix(0, 0).UTC()
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch, Format: tar.FormatPAX}
		if d.IsDir() {
			hdr.Typeflag, hdr.Mode, hdr.Name = tar.TypeDir, 0o755, hdr.Name+"/"
			return tw.WriteHeader(hdr)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, info.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
