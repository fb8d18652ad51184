package s3test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func TestStartPutGetStop(t *testing.T) {
	srv := Start(t)
	if !strings.HasPrefix(srv.Endpoint, "127.0.0.1:") {
		t.Fatalf("endpoint %s is not on loopback", srv.Endpoint)
	}
	c := srv.Client(t)
	b1, b2 := srv.NewBucket(t), srv.NewBucket(t)
	if b1 == b2 {
		t.Fatalf("bucket names repeat: %s", b1)
	}
	ctx := context.Background()
	if _, err := c.PutObject(ctx, b1, "k", bytes.NewReader([]byte("hello")), 5, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	o, err := c.GetObject(ctx, b1, "k", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	if err != nil || string(got) != "hello" {
		t.Fatalf("got %q, %v", got, err)
	}
	srv.Stop()
	srv.Stop() // idempotent
	if _, err := c.BucketExists(ctx, b1); err == nil {
		t.Fatal("MinIO still answers after Stop")
	}
}

func TestBinaryMissingSaysHowToBuild(t *testing.T) {
	t.Setenv("MINIO_BIN", filepath.Join(t.TempDir(), "nothing-here"))
	_, err := Binary()
	if err == nil || !strings.Contains(err.Error(), "run hack/build-k8s.sh minio") {
		t.Fatalf("got %v", err)
	}
}

func TestBinaryDefaultFromVersions(t *testing.T) {
	t.Setenv("MINIO_BIN", "")
	p, err := Binary()
	if err != nil {
		t.Fatalf("%v (the default comes from hack/versions.sh)", err)
	}
	if !strings.Contains(p, "/minio/") {
		t.Fatalf("unexpected default path %s", p)
	}
}

// TestIMDSServesTheRole starts the metadata mock IMDSv2-only and reads the
// role's credentials the way minio-go's instance-role provider does.
func TestIMDSServesTheRole(t *testing.T) {
	want := credentials.Value{AccessKeyID: "ASIATEST", SecretAccessKey: "secret", SessionToken: "token", Expiration: time.Now().Add(time.Hour).Truncate(time.Second)}
	m := StartIMDS(t, IMDSOptions{Credentials: want})
	got, err := (&credentials.IAM{Endpoint: m.URL}).RetrieveWithCredContext(&credentials.CredContext{Client: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessKeyID != want.AccessKeyID || got.SecretAccessKey != want.SecretAccessKey || got.SessionToken != want.SessionToken || !got.Expiration.Equal(want.Expiration) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	resp, err := http.Get(m.URL + credentials.DefaultIAMSecurityCredsPath)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("IMDSv1 request: %s, want 401 (IMDSv2 only)", resp.Status)
	}
	m.Stop()
	m.Stop() // idempotent
	if _, err := http.Get(m.URL + credentials.DefaultIAMSecurityCredsPath); err == nil {
		t.Fatal("the metadata mock still answers after Stop")
	}
}

func TestIMDSBinaryMissingSaysHowToBuild(t *testing.T) {
	t.Setenv("AEMM_BIN", filepath.Join(t.TempDir(), "nothing-here"))
	_, err := IMDSBinary()
	if err == nil || !strings.Contains(err.Error(), "run hack/build-k8s.sh aemm") {
		t.Fatalf("got %v", err)
	}
}
