package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"quorum.dev/etcd-operator/etcdserver/server"
)

// Timeouts of the calls made before the snapshot stream.
const (
	DefaultDialTimeout   = 5 * time.Second
	DefaultStatusTimeout = 5 * time.Second
)

// EtcdClient is how to reach the cluster.
type EtcdClient struct {
	// Endpoints are client URLs (http(s)://host:port).
	Endpoints []string
	// TLS is a directory with ca.crt and a client certificate tls.crt with
	// its key tls.key; empty for plain http. Without tls.crt and tls.key
	// the client verifies the server with ca.crt and presents no
	// certificate (an etcd without --client-cert-auth, authenticated by
	// user and password).
	TLS server.TLSDir
	// Username and Password are optional etcd credentials. The snapshot
	// RPC needs the root role when authentication is on.
	Username, Password string
	// DialTimeout and StatusTimeout default to the constants above.
	DialTimeout, StatusTimeout time.Duration
}

// BackupOptions configure one backup.
type BackupOptions struct {
	Etcd EtcdClient
	// Key is the object key; the manifest goes to Key+ManifestSuffix.
	Key string
	// Compression is one of Compressions (codec.go).
	Compression string
	// Source says what is backed up, for the manifest; optional.
	Source string
	// EncryptionKey is a 32-byte AES-256 key, or nil for no encryption.
	EncryptionKey []byte
	// Now is the clock for createdAt; time.Now when nil.
	Now func() time.Time
}

func (o BackupOptions) validate() error {
	var errs []error
	if len(o.Etcd.Endpoints) == 0 {
		errs = append(errs, errors.New("no etcd endpoints given"))
	}
	if err := ValidateKey(o.Key); err != nil {
		errs = append(errs, err)
	}
	if !validCompression(o.Compression) {
		errs = append(errs, fmt.Errorf("compression must be one of %s, got %q", strings.Join(Compressions, ", "), o.Compression))
	}
	if o.EncryptionKey != nil && len(o.EncryptionKey) != encryptionKeySize {
		errs = append(errs, fmt.Errorf("encryption key must be %d bytes", encryptionKeySize))
	}
	return errors.Join(errs...)
}

// Backup takes a snapshot of the cluster and stores it under o.Key, then
// stores the manifest under o.Key+ManifestSuffix and returns it.
//
// Steps: check the store (so a wrong bucket or credentials fail before any
// load on etcd); ask every endpoint for its Status and pick a member
// (pickMember); read its revision; open the snapshot stream; read the
// revision again; stream the snapshot through SHA-256, etcd's own trailer
// check, optional compression and optional encryption straight into the store.
// Nothing is buffered beyond the S3 parts in flight (S3UploadThreads), the
// codec's blocks and one encryption chunk.
func Backup(ctx context.Context, lg *zap.Logger, o BackupOptions, st Store) (Manifest, error) {
	if err := o.validate(); err != nil {
		return Manifest{}, err
	}
	if err := st.Check(ctx, true); err != nil {
		return Manifest{}, err
	}

	cli, err := o.Etcd.client(lg, o.Etcd.Endpoints)
	if err != nil {
		return Manifest{}, err
	}
	defer cli.Close()
	sts := o.Etcd.statuses(ctx, cli)
	i, err := pickMember(sts)
	if err != nil {
		return Manifest{}, err
	}
	ep := sts[i].Endpoint
	memberID := sts[i].Status.Header.MemberId
	name := memberName(ctx, cli, o.Etcd.statusTimeout(), memberID)
	lg.Info("backing up from member", zap.String("endpoint", ep), zap.String("member", name),
		zap.String("member-id", hexID(memberID)), zap.Bool("leader", memberID == sts[i].Status.Leader))

	// The snapshot RPC goes to exactly this member.
	one, err := o.Etcd.client(lg, []string{ep})
	if err != nil {
		return Manifest{}, err
	}
	defer one.Close()

	before, err := o.Etcd.status(ctx, one, ep)
	if err != nil {
		return Manifest{}, fmt.Errorf("status of %s: %w", ep, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	snap, err := one.SnapshotWithVersion(sctx)
	if err != nil {
		return Manifest{}, fmt.Errorf("opening snapshot stream from %s: %w", ep, err)
	}
	defer snap.Snapshot.Close()
	// SnapshotWithVersion returns after the first message, so the member
	// has already opened the read transaction the snapshot is taken from.
	after, err := o.Etcd.status(ctx, one, ep)
	if err != nil {
		return Manifest{}, fmt.Errorf("status of %s: %w", ep, err)
	}
	if after.Header.MemberId != memberID || before.Header.MemberId != memberID {
		return Manifest{}, fmt.Errorf("endpoint %s changed member during the backup", ep)
	}

	streamStart := time.Now()
	res, err := upload(sctx, st, o, snap.Snapshot)
	streamTime := time.Since(streamStart)
	if err != nil {
		return Manifest{}, err
	}

	m := Manifest{
		Format:          ManifestFormat,
		SHA256:          res.sha256,
		Size:            res.size,
		StoredSize:      res.stored,
		EtcdRevision:    before.Header.Revision,
		EtcdRevisionMax: after.Header.Revision,
		ClusterID:       hexID(before.Header.ClusterId),
		MemberID:        hexID(memberID),
		MemberName:      name,
		Endpoint:        ep,
		EtcdVersion:     before.Version,
		StorageVersion:  snap.Version,
		Compression:     o.Compression,
		Encrypted:       o.EncryptionKey != nil,
		CreatedAt:       o.now().UTC().Format(time.RFC3339),
		Location:        st.Location(o.Key),
		Source:          o.Source,
	}
	if m.Encrypted {
		m.Encryption = EncryptionFormat
	}
	line := m.MarshalLine()
	if err := st.Put(ctx, o.Key+ManifestSuffix, bytes.NewReader(line), int64(len(line))); err != nil {
		return Manifest{}, fmt.Errorf("writing manifest: %w", err)
	}
	// The stream's duration and rate tell where a slow backup's time went
	// (etcd's snapshot stream, the codec and the upload run together).
	lg.Info("backup complete", zap.String("location", m.Location), zap.Int64("size", m.Size),
		zap.String("compression", m.Compression), zap.Duration("stream", streamTime.Round(time.Millisecond)),
		zap.Float64("mib-per-second", mibPerSecond(m.Size, streamTime)),
		zap.Int64("stored-size", m.StoredSize), zap.Int64("revision", m.EtcdRevision))
	return m, nil
}

func (o BackupOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// errUploadStopped unblocks the encoder once the store stops reading.
var errUploadStopped = errors.New("upload stopped")

type uploadResult struct {
	sha256       string
	size, stored int64
}

// upload streams the raw snapshot into the store through the pipeline.
// A pipeline failure (etcd stream broken, trailer mismatch) is returned in
// preference to the store's error, and aborts the upload.
func upload(ctx context.Context, st Store, o BackupOptions, raw io.Reader) (uploadResult, error) {
	pr, pw := io.Pipe()
	var (
		res     uploadResult
		pipeErr error
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		res, pipeErr = encode(pw, raw, o)
		if pipeErr != nil {
			pw.CloseWithError(pipeErr)
		} else {
			_ = pw.Close()
		}
	})
	putErr := st.Put(ctx, o.Key, pr, -1)
	// Unblock the encoder if the store stopped reading early.
	pr.CloseWithError(errUploadStopped)
	wg.Wait()
	switch {
	case pipeErr != nil && !errors.Is(pipeErr, errUploadStopped):
		return uploadResult{}, pipeErr
	case putErr != nil:
		return uploadResult{}, putErr
	case pipeErr != nil:
		return uploadResult{}, pipeErr
	}
	return res, nil
}

// encode copies raw to w through hash → compression → encryption.
func encode(w io.Writer, raw io.Reader, o BackupOptions) (uploadResult, error) {
	stored := &countWriter{w: w}
	var out io.Writer = stored
	var closers []io.Closer // innermost last
	if o.EncryptionKey != nil {
		ew, err := NewEncryptWriter(out, o.EncryptionKey, DefaultChunkSize)
		if err != nil {
			return uploadResult{}, fmt.Errorf("encrypting: %w", err)
		}
		out = ew
		closers = append(closers, ew)
	}
	cw, err := compressWriter(o.Compression, out)
	if err != nil {
		return uploadResult{}, err
	}
	if cw != nil {
		out = cw
		closers = append(closers, cw)
	}
	trailer := newTrailerCheck()
	n, err := io.Copy(io.MultiWriter(out, trailer), raw)
	if err != nil {
		return uploadResult{}, fmt.Errorf("reading snapshot stream after %d bytes: %w", n, err)
	}
	if err := trailer.verify(n); err != nil {
		return uploadResult{}, err
	}
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i].Close(); err != nil {
			return uploadResult{}, fmt.Errorf("finishing stream: %w", err)
		}
	}
	_, full := trailer.sums()
	return uploadResult{sha256: hex.EncodeToString(full), size: n, stored: stored.n}, nil
}

// trailerCheck verifies etcd's snapshot trailer: the last 32 bytes of the
// stream are the SHA-256 of everything before them. It hashes all but the
// last 32 bytes seen so far, and gives the SHA-256 of the whole stream
// from the same pass (sums), so every byte is hashed once.
type trailerCheck struct {
	h    hash.Hash
	tail []byte
	// body and full are set by sums, after the last Write.
	body, full []byte
}

// sums returns the SHA-256 of all but the last 32 bytes written (what
// etcd's trailer must equal) and of all bytes. Call it after the last
// Write.
func (t *trailerCheck) sums() (body, full []byte) {
	if t.full == nil {
		t.body = t.h.Sum(nil)
		t.h.Write(t.tail)
		t.full = t.h.Sum(nil)
	}
	return t.body, t.full
}

func newTrailerCheck() *trailerCheck {
	return &trailerCheck{h: sha256.New(), tail: make([]byte, 0, 2*sha256.Size)}
}

func (t *trailerCheck) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= sha256.Size {
		t.h.Write(t.tail)
		t.h.Write(p[:len(p)-sha256.Size])
		t.tail = append(t.tail[:0], p[len(p)-sha256.Size:]...)
		return n, nil
	}
	t.tail = append(t.tail, p...)
	if extra := len(t.tail) - sha256.Size; extra > 0 {
		t.h.Write(t.tail[:extra])
		t.tail = append(t.tail[:0], t.tail[extra:]...)
	}
	return n, nil
}

func (t *trailerCheck) verify(size int64) error {
	// etcd pads the database to whole 512-byte sectors and appends the hash.
	if size%512 != sha256.Size || len(t.tail) != sha256.Size {
		return fmt.Errorf("snapshot stream is incomplete (%d bytes, no etcd checksum trailer)", size)
	}
	if body, _ := t.sums(); !bytes.Equal(body, t.tail) {
		return errors.New("snapshot stream is corrupt: it does not match etcd's own checksum trailer")
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (e EtcdClient) dialTimeout() time.Duration {
	if e.DialTimeout > 0 {
		return e.DialTimeout
	}
	return DefaultDialTimeout
}

func (e EtcdClient) statusTimeout() time.Duration {
	if e.StatusTimeout > 0 {
		return e.StatusTimeout
	}
	return DefaultStatusTimeout
}

// tlsConfig is the client TLS of e.TLS, nil for plain http: the CA in
// ca.crt verifies the server; tls.crt and tls.key, when both are there,
// are the client certificate.
func (e EtcdClient) tlsConfig() (*tls.Config, error) {
	if !e.TLS.Enabled() {
		return nil, nil
	}
	info := transport.TLSInfo{CertFile: e.TLS.CertFile(), KeyFile: e.TLS.KeyFile(), TrustedCAFile: e.TLS.CAFile()}
	if !exists(info.CertFile) && !exists(info.KeyFile) {
		info.CertFile, info.KeyFile = "", "" // server authentication only
	}
	cfg, err := info.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd client TLS from %s: %w", string(e.TLS), err)
	}
	return cfg, nil
}

func (e EtcdClient) client(lg *zap.Logger, endpoints []string) (*clientv3.Client, error) {
	tlsCfg, err := e.tlsConfig()
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         tlsCfg,
		Username:    e.Username,
		Password:    e.Password,
		DialTimeout: e.dialTimeout(),
		Logger:      lg.Named("etcd-client").WithOptions(zap.IncreaseLevel(zap.ErrorLevel)),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", endpoints, err)
	}
	return cli, nil
}

func (e EtcdClient) status(ctx context.Context, cli *clientv3.Client, ep string) (*clientv3.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, e.statusTimeout())
	defer cancel()
	return cli.Status(ctx, ep)
}

// statuses asks every endpoint concurrently.
func (e EtcdClient) statuses(ctx context.Context, cli *clientv3.Client) []endpointStatus {
	out := make([]endpointStatus, len(e.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range e.Endpoints {
		wg.Go(func() {
			st, err := e.status(ctx, cli, ep)
			out[i] = endpointStatus{Endpoint: ep, Status: st, Err: err}
		})
	}
	wg.Wait()
	return out
}

// memberName looks the member's name up; "" if that fails (it is only
// informative).
func memberName(ctx context.Context, cli *clientv3.Client, timeout time.Duration, id uint64) string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := cli.MemberList(ctx)
	if err != nil {
		return ""
	}
	for _, m := range resp.Members {
		if m.ID == id {
			return m.Name
		}
	}
	return ""
}

func hexID(id uint64) string { return strconv.FormatUint(id, 16) }

// exists tells whether a file is there (a missing key of a mounted Secret
// is a missing file).
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// mibPerSecond is n bytes over d in MiB/s, rounded to 0.1.
func mibPerSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(int64(float64(n)/(1<<20)/d.Seconds()*10)) / 10
}
