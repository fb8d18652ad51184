package etcdbackupschedule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/etcdserver/backup/s3client"
)

// s3RemoveTimeout bounds one delete request.
const s3RemoveTimeout = 30 * time.Second

// Keys of the credentials Secret of an S3 destination.
const (
	s3AccessKeyID     = "AWS_ACCESS_KEY_ID"
	s3SecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	s3SessionToken    = "AWS_SESSION_TOKEN" // optional
)

// ObjectStores opens the bucket of an S3 destination. Retention deletes
// expired snapshots through it; tests of the retention steps use the real
// implementation against MinIO.
type ObjectStores interface {
	// Open reads the destination's credentials (and CA) from Secrets in
	// namespace. It does not contact the server.
	Open(ctx context.Context, namespace string, loc *etcdv1.S3Location) (ObjectStore, error)
}

// ObjectStore deletes objects of one bucket.
type ObjectStore interface {
	// Remove deletes the objects in order; an object already gone is not
	// an error, so a retention step interrupted half-way is safe to re-run.
	Remove(ctx context.Context, keys ...string) error
}

// S3Stores is the ObjectStores of the operator: minio-go clients with
// credentials read from the destination's Secret.
type S3Stores struct {
	// Reader reads users' Secrets, which the operator's cache does not hold.
	Reader client.Reader
}

// Open builds a client for loc from the Secrets it names.
func (s S3Stores) Open(ctx context.Context, namespace string, loc *etcdv1.S3Location) (ObjectStore, error) {
	creds, err := s.secret(ctx, namespace, loc.CredentialsSecretName)
	if err != nil {
		return nil, err
	}
	cfg := S3StoreConfig{
		Endpoint: loc.Endpoint, Bucket: loc.Bucket, Region: loc.Region, Insecure: loc.Insecure,
		AccessKeyID:     string(creds.Data[s3AccessKeyID]),
		SecretAccessKey: string(creds.Data[s3SecretAccessKey]),
		SessionToken:    string(creds.Data[s3SessionToken]),
	}
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, fmt.Errorf("secret %s has no %s or %s", loc.CredentialsSecretName, s3AccessKeyID, s3SecretAccessKey)
	}
	if loc.CA != nil {
		ca, err := s.secret(ctx, namespace, loc.CA.Name)
		if err != nil {
			return nil, err
		}
		if cfg.CA = ca.Data[loc.CA.Key]; len(cfg.CA) == 0 {
			return nil, fmt.Errorf("secret %s has no key %q", loc.CA.Name, loc.CA.Key)
		}
	}
	return NewS3Store(cfg)
}

func (s S3Stores) secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	sec := &corev1.Secret{}
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret %s not found", name)
		}
		return nil, fmt.Errorf("reading secret %s: %w", name, err)
	}
	return sec, nil
}

// S3StoreConfig addresses one bucket.
type S3StoreConfig struct {
	// Endpoint is host:port, without scheme.
	Endpoint string
	Bucket   string
	// Region is optional; empty asks the server.
	Region string
	// Insecure selects plain http.
	Insecure bool
	// CA is an optional PEM bundle trusted in addition to the system roots.
	CA []byte

	AccessKeyID, SecretAccessKey, SessionToken string
}

type s3Store struct {
	cfg    S3StoreConfig
	client *minio.Client
}

// NewS3Store builds a client for one bucket; it does not contact the server.
func NewS3Store(cfg S3StoreConfig) (ObjectStore, error) {
	if cfg.Endpoint == "" || strings.Contains(cfg.Endpoint, "/") {
		return nil, fmt.Errorf("S3 endpoint %q must be host[:port] without scheme or path", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("S3 bucket is empty")
	}
	c, err := s3client.New(s3client.Options{Endpoint: cfg.Endpoint, Insecure: cfg.Insecure, CA: cfg.CA, Region: cfg.Region,
		AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, SessionToken: cfg.SessionToken})
	if errors.Is(err, s3client.ErrNoPEM) {
		return nil, errors.New("the S3 CA holds no PEM certificate")
	}
	if err != nil {
		return nil, err
	}
	return &s3Store{cfg: cfg, client: c}, nil
}

// Remove deletes the keys one by one, stopping at the first failure.
func (s *s3Store) Remove(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		rctx, cancel := context.WithTimeout(ctx, s3RemoveTimeout)
		err := s.client.RemoveObject(rctx, s.cfg.Bucket, k, minio.RemoveObjectOptions{})
		cancel()
		var er minio.ErrorResponse
		if errors.As(err, &er) && er.Code == "NoSuchKey" {
			err = nil
		}
		if err != nil {
			return fmt.Errorf("deleting s3://%s/%s on %s: %w", s.cfg.Bucket, k, s.cfg.Endpoint, err)
		}
	}
	return nil
}
