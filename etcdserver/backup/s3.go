package backup

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"

	"quorum.dev/etcd-operator/etcdserver/backup/s3client"
)

// S3PartSize is the multipart part size of uploads of unknown length, and
// S3UploadThreads how many parts are uploaded at once. Together they bound
// the memory of an upload (S3UploadThreads parts are buffered: 64 MiB) and
// the part size the object size (10,000 parts: about 156 GiB, far above
// etcd's 8 GiB storage limit). One part at a time left the encoder
// waiting for each part's round trip and its payload hash (SigV4 over
// http); four overlap them (BenchmarkS3Put).
const (
	S3PartSize      = 16 << 20
	S3UploadThreads = 4
)

// Environment variables holding the S3 credentials (the usual AWS names):
// the static keys, and the token file and role of a web identity (as the
// EKS webhook and the AWS SDKs name them).
const (
	EnvAccessKeyID          = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey      = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken         = "AWS_SESSION_TOKEN" // optional
	EnvWebIdentityTokenFile = "AWS_WEB_IDENTITY_TOKEN_FILE"
	EnvRoleARN              = "AWS_ROLE_ARN" // optional
)

// S3Config addresses a bucket of an S3-compatible server.
type S3Config struct {
	// Endpoint is host:port, without scheme.
	Endpoint string
	// Insecure selects plain http instead of https.
	Insecure bool
	// CAFile is an optional PEM bundle trusted in addition to the system
	// roots for https.
	CAFile string
	// Region is optional; empty asks the server.
	Region string
	Bucket string

	// Credentials is where credentials come from (s3client.Source; empty
	// is static).
	Credentials s3client.Source

	// Static credentials.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Web identity: the token file, the role, the STS URL (empty: AWS).
	WebIdentityTokenFile, RoleARN, STSEndpoint string
	// Instance role: the metadata service URL (empty: EC2's).
	IAMEndpoint string
}

// S3Store keeps backups as objects of one bucket.
type S3Store struct {
	cfg    S3Config
	client *minio.Client
	// origin says where credentials the user did not give as keys come
	// from (s3client.Options.Origin), for messages; empty for static keys.
	origin string
	// threads overrides S3UploadThreads (benchmarks); 0 means the default.
	threads int
}

func (s *S3Store) uploadThreads() int {
	if s.threads > 0 {
		return s.threads
	}
	return S3UploadThreads
}

var _ Store = (*S3Store)(nil)

// NewS3Store builds the client; it does not contact the server.
func NewS3Store(cfg S3Config) (*S3Store, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("S3 endpoint is empty")
	}
	if strings.Contains(cfg.Endpoint, "://") || strings.Contains(cfg.Endpoint, "/") {
		return nil, fmt.Errorf("S3 endpoint %q must be host[:port] without scheme or path (plain http: set --s3-insecure)", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("S3 bucket is empty")
	}
	switch cfg.Credentials {
	case "", s3client.SourceStatic:
		if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
			return nil, fmt.Errorf("S3 credentials missing: set %s and %s", EnvAccessKeyID, EnvSecretAccessKey)
		}
	case s3client.SourceWebIdentity:
		if cfg.WebIdentityTokenFile == "" {
			return nil, fmt.Errorf("web identity S3 credentials need %s (the service account token file)", EnvWebIdentityTokenFile)
		}
		if _, err := os.Stat(cfg.WebIdentityTokenFile); err != nil {
			return nil, fmt.Errorf("web identity token file (%s): %w", EnvWebIdentityTokenFile, err)
		}
	}
	var ca []byte
	if cfg.CAFile != "" {
		if cfg.Insecure {
			return nil, errors.New("an S3 CA file makes no sense with plain http (--s3-insecure)")
		}
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading S3 CA file: %w", err)
		}
		ca = pem
	}
	opts := s3client.Options{Endpoint: cfg.Endpoint, Insecure: cfg.Insecure, CA: ca, Region: cfg.Region,
		Credentials: cfg.Credentials, AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, SessionToken: cfg.SessionToken,
		WebIdentityTokenFile: cfg.WebIdentityTokenFile, RoleARN: cfg.RoleARN, STSEndpoint: cfg.STSEndpoint, IAMEndpoint: cfg.IAMEndpoint}
	c, err := s3client.New(opts)
	if errors.Is(err, s3client.ErrNoPEM) {
		return nil, fmt.Errorf("S3 CA file %s holds no PEM certificate", cfg.CAFile)
	}
	if err != nil {
		return nil, err
	}
	return &S3Store{cfg: cfg, client: c, origin: opts.Origin(os.Getenv)}, nil
}

// Location is s3://<bucket>/<key>.
func (s *S3Store) Location(key string) string {
	return "s3://" + s.cfg.Bucket + "/" + key
}

// Check lists at most one object of the bucket, which tells an unknown
// bucket, a wrong access key and a wrong secret apart. A policy that
// forbids listing (AccessDenied) is accepted: the upload or download then
// says whether the object itself is allowed.
func (s *S3Store) Check(ctx context.Context, _ bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{MaxKeys: 1}) {
		if obj.Err != nil {
			if code(obj.Err) == "AccessDenied" {
				return nil
			}
			return s.explain("checking bucket", "", obj.Err)
		}
		break
	}
	return nil
}

// Put uploads r. With size -1 it is a multipart upload of S3PartSize parts,
// S3UploadThreads at a time, aborted if r fails, so no partial object
// appears.
func (s *S3Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if size < 0 {
		opts.PartSize = S3PartSize
		opts.NumThreads = uint(s.uploadThreads())
		opts.ConcurrentStreamParts = opts.NumThreads > 1
	}
	if strings.HasSuffix(key, ManifestSuffix) {
		opts.ContentType = "application/json"
	}
	if _, err := s.client.PutObject(ctx, s.cfg.Bucket, key, r, size, opts); err != nil {
		return s.explain("uploading", key, err)
	}
	return nil
}

// Remove deletes the object; one already gone is not an error.
func (s *S3Store) Remove(ctx context.Context, key string) error {
	err := s.client.RemoveObject(ctx, s.cfg.Bucket, key, minio.RemoveObjectOptions{})
	if err != nil && code(err) != "NoSuchKey" {
		return s.explain("deleting", key, err)
	}
	return nil
}

// Get opens the object; a missing bucket or object fails here rather than
// on the first read.
func (s *S3Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.explain("downloading", key, err)
	}
	if _, err := o.Stat(); err != nil {
		_ = o.Close()
		return nil, s.explain("downloading", key, err)
	}
	return &s3Reader{o: o, s: s, key: key}, nil
}

type s3Reader struct {
	o   *minio.Object
	s   *S3Store
	key string
}

func (r *s3Reader) Read(p []byte) (int, error) {
	n, err := r.o.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = r.s.explain("downloading", r.key, err)
	}
	return n, err
}

func (r *s3Reader) Close() error { return r.o.Close() }

func code(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	return ""
}

// explain turns an S3 error into one sentence naming the likely cause.
func (s *S3Store) explain(op, key string, err error) error {
	what := s.Location(key)
	if key == "" {
		what = "s3://" + s.cfg.Bucket
	}
	var ce *s3client.CredentialsError
	if errors.As(err, &ce) {
		return fmt.Errorf("%s %s: %w", op, what, err)
	}
	if from := s.origin; from != "" {
		// Keys not given by the user: name where they came from, not
		// variables the pod does not have.
		switch code(err) {
		case "ExpiredToken", "InvalidToken", "InvalidTokenId":
			return fmt.Errorf("%s %s: S3 rejected the session token of the credentials from %s: it has expired or is not valid: %w", op, what, from, err)
		case "InvalidAccessKeyId":
			return fmt.Errorf("%s %s: S3 rejected the access key ID of the credentials from %s: %w", op, what, from, err)
		case "SignatureDoesNotMatch":
			return fmt.Errorf("%s %s: S3 rejected the request signature made with the credentials from %s: %w", op, what, from, err)
		case "AccessDenied":
			return fmt.Errorf("%s %s: access denied by the S3 server to the credentials from %s (check the role's policy): %w", op, what, from, err)
		}
	}
	switch code(err) {
	case "ExpiredToken", "InvalidToken", "InvalidTokenId":
		if s.cfg.SessionToken == "" {
			return fmt.Errorf("%s %s: S3 rejected the request: the access key (%s) is temporary and needs its session token (%s): %w",
				op, what, EnvAccessKeyID, EnvSessionToken, err)
		}
		return fmt.Errorf("%s %s: S3 rejected the session token (%s): it has expired or does not belong to the access key: %w",
			op, what, EnvSessionToken, err)
	case "NoSuchBucket":
		return fmt.Errorf("%s %s: bucket %q does not exist on %s", op, what, s.cfg.Bucket, s.cfg.Endpoint)
	case "NoSuchKey":
		return fmt.Errorf("%s %s: %w", op, what, ErrNotFound)
	case "InvalidAccessKeyId":
		return fmt.Errorf("%s %s: S3 rejected the access key ID (%s): %w", op, what, EnvAccessKeyID, err)
	case "SignatureDoesNotMatch":
		return fmt.Errorf("%s %s: S3 rejected the request signature; the secret access key (%s) is probably wrong: %w",
			op, what, EnvSecretAccessKey, err)
	case "AccessDenied":
		return fmt.Errorf("%s %s: access denied by the S3 server (check the credentials' policy): %w", op, what, err)
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		var ce *tls.CertificateVerificationError
		if errors.As(err, &ce) {
			return fmt.Errorf("%s %s: TLS verification of %s failed (set --s3-ca-file?): %w", op, what, s.cfg.Endpoint, err)
		}
		return fmt.Errorf("%s %s: cannot reach S3 endpoint %s: %w", op, what, s.cfg.Endpoint, err)
	}
	return fmt.Errorf("%s %s: %w", op, what, err)
}
