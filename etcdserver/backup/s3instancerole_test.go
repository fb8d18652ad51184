package backup

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
)

// instanceRoleEnv is the environment of a pod of an instanceRole location
// whose metadata endpoint is set: no keys, only the flags' variables.
func instanceRoleEnv(f *s3Fixture, bucket, imdsURL string) map[string]string {
	return map[string]string{
		"QUORUM_S3_ENDPOINT":     f.srv.Endpoint,
		"QUORUM_S3_INSECURE":     "true",
		"QUORUM_S3_BUCKET":       bucket,
		"QUORUM_S3_CREDENTIALS":  "instance-role",
		"QUORUM_S3_IAM_ENDPOINT": imdsURL,
	}
}

// TestS3InstanceRole backs up and restores with the credentials of an
// instance role, the way pods of an instanceRole location run on a node
// with an instance profile. The metadata service is AWS's EC2 metadata
// emulator, answering IMDSv2 only (a session token is required, as on
// instances with HttpTokens=required); the role's credentials it serves
// are temporary credentials that MinIO's STS issued (AssumeRole) with a
// session policy limited to the bucket. quorum-etcd is given no keys.
//
// The failures show the credentials come from the metadata service and
// are named so: the role of another bucket is denied, credentials MinIO
// never issued are refused, a stopped service cannot be reached, and a
// token request that gets no answer (a pod behind a hop limit of 1) ends
// in the metadata service's 401 with the hop limit named.
func TestS3InstanceRole(t *testing.T) {
	t.Parallel()
	// minio-go's provider prefers these to the metadata service; a test
	// process that has them would not test it.
	for _, v := range []string{"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		if os.Getenv(v) != "" {
			t.Fatalf("$%s is set: the instance-role provider would use it instead of the metadata service; unset it", v)
		}
	}
	f := &s3Fixture{srv: s3test.Start(t), tls: writeTLSDir(t), keys: 50}
	f.src = memberSettings(t, "src", f.tls)
	f.rev = fill(t, startMember(t, f.src), f.keys)
	bucket, other := f.srv.NewBucket(t), f.srv.NewBucket(t)

	imds := s3test.StartIMDS(t, s3test.IMDSOptions{Credentials: f.srv.AssumeRole(t, s3test.BucketPolicy(bucket))})
	env := instanceRoleEnv(f, bucket, imds.URL)
	m := f.backup(t, env, "--key", "ir/snap.db")
	if m.EtcdRevision != f.rev || m.Location != "s3://"+bucket+"/ir/snap.db" {
		t.Errorf("manifest: %+v", m)
	}
	s := memberSettings(t, "restored", f.tls)
	f.restore(t, env, s, "--key", "ir/snap.db")
	f.checkRestored(t, s, DefaultBumpRevision)
	// The service answers IMDSv2 only, so the credentials were asked with
	// a session token; its log shows both.
	log, err := os.ReadFile(imds.Log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GenerateToken Received request", "Token validated!", "/latest/meta-data/iam/security-credentials/" + s3test.DefaultIAMRole} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the metadata service's log has no %q:\n%s", want, log)
		}
	}

	t.Run("endpoint with a trailing slash", func(t *testing.T) {
		f.backup(t, instanceRoleEnv(f, bucket, imds.URL+"/"), "--key", "ir/slash.db")
	})
	t.Run("role of another bucket", func(t *testing.T) {
		wrong := s3test.StartIMDS(t, s3test.IMDSOptions{Credentials: f.srv.AssumeRole(t, s3test.BucketPolicy(other))})
		want := "access denied by the S3 server to the credentials from the instance metadata service at " + wrong.URL
		f.restoreFails(t, instanceRoleEnv(f, bucket, wrong.URL), want, "--key", "ir/snap.db")
		args := []string{"--endpoints", f.src.AdvertiseClientURL.String(), "--tls-dir", string(f.tls), "--key", "ir/denied.db"}
		code, _, errOut := runCLI(t, BackupMain, instanceRoleEnv(f, bucket, wrong.URL), args...)
		if code != ExitFailure || !strings.Contains(errOut, "uploading s3://"+bucket+"/ir/denied.db") || !strings.Contains(errOut, want) {
			t.Fatalf("backup: exit %d, stderr %q; want exit 1 and %q", code, errOut, want)
		}
	})
	t.Run("credentials MinIO never issued", func(t *testing.T) {
		fake := s3test.StartIMDS(t, s3test.IMDSOptions{Credentials: credentials.Value{
			AccessKeyID: "ASIAQUORUMTESTFAKE01", SecretAccessKey: "not-a-secret-minio-knows", SessionToken: "not-a-token"}})
		f.restoreFails(t, instanceRoleEnv(f, bucket, fake.URL),
			"S3 rejected the access key ID of the credentials from the instance metadata service at "+fake.URL, "--key", "ir/snap.db")
	})
	t.Run("metadata service stopped", func(t *testing.T) {
		gone := s3test.StartIMDS(t, s3test.IMDSOptions{Credentials: f.srv.AssumeRole(t, s3test.BucketPolicy(bucket))})
		gone.Stop()
		f.restoreFails(t, instanceRoleEnv(f, bucket, gone.URL),
			"getting S3 credentials (instance-role) from the instance metadata service at "+gone.URL+": ", "--key", "ir/snap.db")
	})
	t.Run("token request unanswered", func(t *testing.T) {
		// What a pod sees on a node whose metadata hop limit is 1: the
		// answer to PUT /latest/api/token never arrives. minio-go gives up
		// after a second and asks without a token, which an IMDSv2-only
		// service refuses; one that also serves IMDSv1 answers.
		proxy := noTokenAnswer(t, imds.URL)
		f.restoreFails(t, instanceRoleEnv(f, bucket, proxy), "getting S3 credentials (instance-role) from the instance metadata service at "+proxy+
			": 401 Unauthorized: the service requires IMDSv2 and its session token (PUT /latest/api/token) got no answer; "+
			"in a pod that is the instance's metadata hop limit (HttpPutResponseHopLimit): it must be at least 2", "--key", "ir/snap.db")

		v1 := s3test.StartIMDS(t, s3test.IMDSOptions{Credentials: f.srv.AssumeRole(t, s3test.BucketPolicy(bucket)), AllowIMDSv1: true})
		f.restore(t, instanceRoleEnv(f, bucket, noTokenAnswer(t, v1.URL)), memberSettings(t, "restored-v1", f.tls), "--key", "ir/snap.db")
	})
}

// noTokenAnswer is a proxy to the metadata service at target that never
// answers token requests (PUT /latest/api/token), as EC2's answers are
// dropped past the hop limit; it returns the proxy's URL.
func noTokenAnswer(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == credentials.TokenPath {
			<-r.Context().Done() // the client gives up
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
