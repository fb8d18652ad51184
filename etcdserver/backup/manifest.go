package backup

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/version"

	"quorum.dev/etcd-operator/internal/contract"
)

// ManifestFormat is the value of Manifest.Format written by this code.
const ManifestFormat = "quorum.dev/etcd-backup/v1"

// ManifestSuffix is appended to the object key to name the manifest.
const ManifestSuffix = contract.ManifestSuffix

// Compression values (codec.go).
const (
	CompressionNone = "none"
	CompressionGzip = "gzip"
	CompressionZstd = "zstd"
)

// Manifest describes one backup. It is written next to the backup object as
// <key>.manifest.json once the object is complete (a backup without its
// manifest is incomplete), printed as the last line of stdout, and written
// to the termination log. It stays well below the 4 KiB termination message
// limit.
type Manifest struct {
	// Format is ManifestFormat.
	Format string `json:"format"`
	// SHA256 is the hex SHA-256 of the raw snapshot bytes, as streamed by
	// etcd (the bbolt database followed by etcd's own 32-byte SHA-256
	// trailer), before compression and encryption.
	SHA256 string `json:"sha256"`
	// Size is the number of raw snapshot bytes.
	Size int64 `json:"size"`
	// StoredSize is the number of bytes of the stored object (after
	// compression and encryption).
	StoredSize int64 `json:"storedSize"`
	// EtcdRevision is the revision of the snapshot: every write with a
	// revision <= EtcdRevision is in it (see the package doc).
	EtcdRevision int64 `json:"etcdRevision"`
	// EtcdRevisionMax bounds it from above: no write with a larger revision
	// is in the snapshot. Equal to EtcdRevision when no write raced the
	// backup.
	EtcdRevisionMax int64 `json:"etcdRevisionMax"`
	// ClusterID and MemberID are hexadecimal, as etcdctl prints them.
	ClusterID  string `json:"clusterID"`
	MemberID   string `json:"memberID"`
	MemberName string `json:"memberName,omitempty"`
	Endpoint   string `json:"endpoint"`
	// EtcdVersion is the server version of the member that took the
	// snapshot; StorageVersion the storage schema version etcd reports with
	// the snapshot (empty on etcd < 3.6 and in a new cluster until etcd has
	// recorded it, a few seconds after start).
	EtcdVersion    string `json:"etcdVersion"`
	StorageVersion string `json:"storageVersion,omitempty"`
	// Compression is CompressionZstd, CompressionGzip or CompressionNone
	// (codec.go).
	Compression string `json:"compression"`
	// Encrypted tells whether the object is encrypted; Encryption names the
	// format (EncryptionFormat).
	Encrypted  bool   `json:"encrypted"`
	Encryption string `json:"encryption,omitempty"`
	CreatedAt  string `json:"createdAt"`
	// Location is s3://<bucket>/<key> or file://<dir>/<key>.
	Location string `json:"location"`
	// Source is what was backed up, as the operator names it: "EtcdCluster
	// <namespace>/<name>", or "external " and the client URLs of an etcd
	// it does not manage (EtcdBackup spec.external). Empty when the backup
	// command was run without --source (by hand, or by an older operator).
	Source string `json:"source,omitempty"`
}

// MarshalLine is the manifest as one line of JSON, without newline.
func (m Manifest) MarshalLine() []byte {
	b, err := json.Marshal(m)
	if err != nil {
		// Only strings, ints and bools: cannot fail.
		panic(err)
	}
	return b
}

// ParseManifest decodes and validates a manifest.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("parsing manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// Validate checks the fields restore relies on.
func (m Manifest) Validate() error {
	var errs []error
	if m.Format != ManifestFormat {
		errs = append(errs, fmt.Errorf("format %q is not %q", m.Format, ManifestFormat))
	}
	if b, err := hex.DecodeString(m.SHA256); err != nil || len(b) != 32 {
		errs = append(errs, fmt.Errorf("sha256 %q is not 64 hex digits", m.SHA256))
	}
	if m.Size <= 0 {
		errs = append(errs, fmt.Errorf("size %d is not positive", m.Size))
	}
	if !validCompression(m.Compression) {
		errs = append(errs, fmt.Errorf("unknown compression %q", m.Compression))
	}
	if m.Encrypted && m.Encryption != EncryptionFormat {
		errs = append(errs, fmt.Errorf("unknown encryption %q", m.Encryption))
	}
	if _, err := time.Parse(time.RFC3339, m.CreatedAt); err != nil {
		errs = append(errs, fmt.Errorf("createdAt %q is not RFC 3339", m.CreatedAt))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid manifest: %w", errors.Join(errs...))
	}
	return nil
}

// CheckVersion refuses a snapshot taken by an etcd newer than binary (this
// binary's etcd version, e.g. version.Version). Only major.minor count:
// etcd keeps the storage format within a minor release, and restoring a
// snapshot into an older minor is not supported by etcd. An empty version
// (etcd < 3.6 does not report the storage version) is accepted.
func CheckVersion(m Manifest, binary string) error {
	for _, v := range []struct{ what, v string }{
		{"etcd version", m.EtcdVersion}, {"storage version", m.StorageVersion},
	} {
		if v.v == "" {
			continue
		}
		newer, err := newerMinor(v.v, binary)
		if err != nil {
			return fmt.Errorf("backup %s: %w", v.what, err)
		}
		if newer {
			return fmt.Errorf("backup was taken by etcd with %s %s, newer than this binary's etcd %s; "+
				"restore it with quorum-etcd of etcd %s or later", v.what, v.v, binary, majorMinorString(v.v))
		}
	}
	return nil
}

// BinaryEtcdVersion is the etcd version compiled into this binary.
func BinaryEtcdVersion() string { return version.Version }

func newerMinor(v, than string) (bool, error) {
	a, err := majorMinor(v)
	if err != nil {
		return false, err
	}
	b, err := majorMinor(than)
	if err != nil {
		return false, err
	}
	return a[0] > b[0] || (a[0] == b[0] && a[1] > b[1]), nil
}

func majorMinor(v string) ([2]int, error) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return [2]int{}, fmt.Errorf("version %q is not major.minor[.patch]", v)
	}
	var out [2]int
	for i := range 2 {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 {
			return [2]int{}, fmt.Errorf("version %q is not major.minor[.patch]", v)
		}
		out[i] = n
	}
	return out, nil
}

func majorMinorString(v string) string {
	mm, err := majorMinor(v)
	if err != nil {
		return v
	}
	return fmt.Sprintf("%d.%d", mm[0], mm[1])
}
