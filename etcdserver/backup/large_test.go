package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	clientv3 "go.etcd.io/etcd/client/v3"

	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
)

// TestS3TLSMultipart backs up a snapshot larger than two S3 parts, encrypted
// and uncompressed, to MinIO over https with a private CA, and restores it.
func TestS3TLSMultipart(t *testing.T) {
	t.Parallel()
	tlsDir := writeTLSDir(t)
	srv := s3test.StartWith(t, s3test.Options{CertFile: tlsDir.CertFile(), KeyFile: tlsDir.KeyFile(), CAFile: tlsDir.CAFile()})
	bucket := srv.NewBucket(t)
	src := memberSettings(t, "big", tlsDir)
	cli := startMember(t, src)

	const keys, valueSize = 360, 100 << 10 // ~36 MiB of incompressible values
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	last := make([]byte, valueSize)
	for i := range keys {
		_, _ = rand.Read(last)
		if _, err := cli.Put(ctx, fmt.Sprintf("/big/%04d", i), string(last)); err != nil {
			t.Fatal(err)
		}
	}

	env := map[string]string{
		EnvAccessKeyID: srv.AccessKey, EnvSecretAccessKey: srv.SecretKey,
		"QUORUM_S3_ENDPOINT": srv.Endpoint, "QUORUM_S3_BUCKET": bucket,
	}
	keyFile := writeTestFile(t, "key", testKey(t))
	args := []string{"--endpoints", src.AdvertiseClientURL.String(), "--tls-dir", string(tlsDir), "--key", "big.db",
		"--compress", "none", "--encryption-key-file", keyFile}

	// The private CA is needed.
	code, _, errOut := runCLI(t, BackupMain, env, args...)
	if code != ExitFailure || !strings.Contains(errOut, "TLS verification of "+srv.Endpoint+" failed (set --s3-ca-file?)") {
		t.Fatalf("backup without the CA: exit %d, %s", code, errOut)
	}
	env["QUORUM_S3_CA_FILE"] = tlsDir.CAFile()
	code, out, errOut := runCLI(t, BackupMain, env, args...)
	if code != ExitOK {
		t.Fatalf("backup exited %d: %s", code, errOut)
	}
	m, err := ParseManifest([]byte(lastLine(out)))
	if err != nil {
		t.Fatal(err)
	}
	if m.Size < 2*S3PartSize {
		t.Fatalf("snapshot is %d bytes, not above two parts", m.Size)
	}
	info, err := srv.Client(t).StatObject(ctx, bucket, "big.db", minio.StatObjectOptions{})
	if err != nil || info.Size != m.StoredSize || !strings.HasSuffix(info.ETag, fmt.Sprintf("-%d", (m.StoredSize+S3PartSize-1)/S3PartSize)) {
		t.Fatalf("object %+v (%v), manifest stored size %d: want a multipart object", info, err, m.StoredSize)
	}

	s := memberSettings(t, "big-restored", tlsDir)
	code, _, errOut = runCLI(t, RestoreMain, env, restoreArgs(s, "--key", "big.db", "--encryption-key-file", keyFile)...)
	if code != ExitOK {
		t.Fatalf("restore exited %d: %s", code, errOut)
	}
	rcli := startMember(t, s)
	resp, err := rcli.Get(ctx, "/big/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != keys {
		t.Fatalf("restored count %v, %v; want %d", resp, err, keys)
	}
	got, err := rcli.Get(ctx, fmt.Sprintf("/big/%04d", keys-1))
	if err != nil || len(got.Kvs) != 1 || !bytes.Equal(got.Kvs[0].Value, last) {
		t.Fatalf("last value differs after restore (%v)", err)
	}
}
