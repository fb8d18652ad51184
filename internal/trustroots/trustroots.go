// Package trustroots gives a binary the Mozilla root certificates for
// verifying public TLS servers when the machine has none.
//
// Quorum's images are built from scratch: no /etc/ssl/certs. Without roots
// a backup to a public S3 endpoint over HTTPS (AWS, GCS interoperability, a
// company's MinIO with a public certificate) failed certificate
// verification unless the user supplied a CA (issue #16 item 3). Importing
// this package registers golang.org/x/crypto/x509roots/fallback, the Go
// team's copy of Mozilla's root store: crypto/x509 uses it only when the
// system has no roots of its own (SSL_CERT_FILE, SSL_CERT_DIR and the
// usual paths empty), so a node or a test machine with a trust store keeps
// using that one. A user-supplied CA (spec.s3.caSecret and similar) is
// still added on top by the callers.
//
// Both binaries import it: the operator (S3 deletes of expired backups)
// and quorum-etcd (backup upload, restore download).
package trustroots

import (
	// Registers the fallback roots with crypto/x509 (x509.SetFallbackRoots).
	_ "golang.org/x/crypto/x509roots/fallback"
)
