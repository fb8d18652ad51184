// Package s3client builds the minio-go client that both sides of backups
// use: quorum-etcd's uploads and downloads, and the operator's retention.
// It depends on minio-go only, so the operator can link it without etcd.
package s3client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"
)

// ErrNoPEM: the CA bundle given holds no PEM certificate.
var ErrNoPEM = errors.New("holds no PEM certificate")

// Options say how to reach an S3-compatible server.
type Options struct {
	// Endpoint is host:port, without scheme.
	Endpoint string
	// Insecure selects plain http instead of https.
	Insecure bool
	// CA is an optional PEM bundle trusted in addition to the system roots.
	CA []byte
	// Region is optional; empty asks the server.
	Region string

	// Credentials is where the credentials come from: SourceStatic
	// (also when empty) uses the keys below.
	Credentials Source
	// AccessKeyID, SecretAccessKey and the optional SessionToken are the
	// static credentials.
	AccessKeyID, SecretAccessKey, SessionToken string
	// WebIdentityTokenFile, RoleARN and STSEndpoint (a URL; empty means
	// DefaultSTSEndpoint(Region)) are the web identity exchange's.
	WebIdentityTokenFile, RoleARN, STSEndpoint string
	// IAMEndpoint is the instance metadata service's URL; empty means
	// EC2's.
	IAMEndpoint string
}

// New builds the client; it does not contact the server.
func New(o Options) (*minio.Client, error) {
	tr, err := minio.DefaultTransport(!o.Insecure)
	if err != nil {
		return nil, err
	}
	if len(o.CA) > 0 && !o.Insecure {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(o.CA) {
			return nil, ErrNoPEM
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	creds, err := provider(o, &http.Client{Transport: tr})
	if err != nil {
		return nil, err
	}
	c, err := minio.New(o.Endpoint, &minio.Options{
		Creds:     creds,
		Secure:    !o.Insecure,
		Transport: tr,
		Region:    o.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 client for %s: %w", o.Endpoint, err)
	}
	return c, nil
}
