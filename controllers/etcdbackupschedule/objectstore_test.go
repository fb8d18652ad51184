package etcdbackupschedule

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
	"quorum.dev/etcd-operator/internal/contract"
)

func putObjects(t *testing.T, c *minio.Client, bucket string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, err := c.PutObject(context.Background(), bucket, k, bytes.NewReader([]byte(k)), int64(len(k)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("putting %s: %v", k, err)
		}
	}
}

func listObjects(t *testing.T, c *minio.Client, bucket string) []string {
	t.Helper()
	var out []string
	for o := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("listing %s: %v", bucket, o.Err)
		}
		out = append(out, o.Key)
	}
	slices.Sort(out)
	return out
}

// The real store against a real MinIO: deletes the named keys only, is
// safe to repeat, and fails on wrong credentials or a missing bucket.
func TestS3StoreRemove(t *testing.T) {
	srv := s3test.Start(t)
	bucket, c := srv.NewBucket(t), srv.Client(t)
	putObjects(t, c, bucket, "p/ns/db/b1.db", "p/ns/db/b1.db"+contract.ManifestSuffix, "p/ns/db/b2.db", "p/ns/db/b2.db"+contract.ManifestSuffix)
	cfg := S3StoreConfig{Endpoint: srv.Endpoint, Bucket: bucket, Insecure: true, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}
	st, err := NewS3Store(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 2 {
		if err := st.Remove(ctx, "p/ns/db/b1.db"+contract.ManifestSuffix, "p/ns/db/b1.db"); err != nil {
			t.Fatal(err)
		}
		if got, want := listObjects(t, c, bucket), []string{"p/ns/db/b2.db", "p/ns/db/b2.db" + contract.ManifestSuffix}; !slices.Equal(got, want) {
			t.Fatalf("left %v, want %v", got, want)
		}
	}

	bad := cfg
	bad.SecretAccessKey = "wrong-" + cfg.SecretAccessKey
	st, _ = NewS3Store(bad)
	if err := st.Remove(ctx, "p/ns/db/b2.db"); err == nil || !strings.Contains(err.Error(), "deleting s3://"+bucket+"/p/ns/db/b2.db") {
		t.Fatalf("wrong secret: %v", err)
	}
	missing := cfg
	missing.Bucket = "no-such-bucket"
	st, _ = NewS3Store(missing)
	if err := st.Remove(ctx, "k"); err == nil {
		t.Fatal("missing bucket: no error")
	}
	if got := len(listObjects(t, c, bucket)); got != 2 {
		t.Fatalf("%d objects left, want 2", got)
	}
	for _, e := range []string{"", "http://" + srv.Endpoint} {
		if _, err := NewS3Store(S3StoreConfig{Endpoint: e, Bucket: bucket}); err == nil {
			t.Errorf("endpoint %q accepted", e)
		}
	}
}

// S3Stores reads credentials and CA from the destination's Secrets.
func TestS3StoresOpen(t *testing.T) {
	srv := s3test.Start(t)
	bucket, c := srv.NewBucket(t), srv.Client(t)
	putObjects(t, c, bucket, "x.db", "y.db")
	secret := func(name string, data map[string]string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	reader := fake.NewClientBuilder().WithObjects(
		secret("creds", map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}),
		secret("half", map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey}),
		secret("ca", map[string]string{"other.crt": "x"}),
	).Build()
	stores := S3Stores{Reader: reader}
	ctx := context.Background()
	loc := etcdv1.S3Location{Endpoint: srv.Endpoint, Bucket: bucket, Insecure: true, CredentialsSecretName: "creds"}

	st, err := stores.Open(ctx, "ns", &loc)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Remove(ctx, "x.db"); err != nil {
		t.Fatal(err)
	}
	if got := listObjects(t, c, bucket); !slices.Equal(got, []string{"y.db"}) {
		t.Fatalf("left %v", got)
	}

	for _, c := range []struct {
		mutate func(*etcdv1.S3Location)
		err    string
	}{
		{func(l *etcdv1.S3Location) { l.CredentialsSecretName = "nope" }, "secret nope not found"},
		{func(l *etcdv1.S3Location) { l.CredentialsSecretName = "half" }, "secret half has no AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY"},
		{func(l *etcdv1.S3Location) {
			l.Insecure = false
			l.CA = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}, Key: "ca.crt"}
		}, `secret ca has no key "ca.crt"`},
		{func(l *etcdv1.S3Location) {
			l.Insecure = false
			l.CA = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}, Key: "other.crt"}
		}, "holds no PEM certificate"},
	} {
		l := loc
		c.mutate(&l)
		if _, err := stores.Open(ctx, "ns", &l); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("error %v, want one containing %q", err, c.err)
		}
	}
}
