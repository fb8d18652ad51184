package s3test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

// An EC2 instance metadata service for instance-role tests: AWS's own
// emulator, amazon-ec2-metadata-mock (hack/versions.sh AEMM_VERSION, built
// by `hack/build-k8s.sh aemm`; $AEMM_BIN overrides it like $MINIO_BIN),
// serving one IAM role whose security credentials the test gives, usually
// temporary credentials that MinIO's STS issued (Server.AssumeRole):
//
//	creds := srv.AssumeRole(t, s3test.BucketPolicy(bucket))
//	imds := s3test.StartIMDS(t, s3test.IMDSOptions{Credentials: creds})
//	env: QUORUM_S3_CREDENTIALS=instance-role, QUORUM_S3_IAM_ENDPOINT=imds.URL

// DefaultIAMRole is the role name the metadata service lists when
// IMDSOptions.Role is empty.
const DefaultIAMRole = "quorum-backup"

// IMDSOptions of StartIMDS.
type IMDSOptions struct {
	// Role is the IAM role name listed under
	// /latest/meta-data/iam/security-credentials/; DefaultIAMRole if empty.
	Role string
	// Credentials are served as the role's security credentials; an
	// Expiration left zero is an hour from now.
	Credentials credentials.Value
	// AllowIMDSv1 also answers requests without a session token. By default
	// only IMDSv2 is served (a token from PUT /latest/api/token is
	// required, as on instances with HttpTokens=required).
	AllowIMDSv1 bool
}

// IMDS is a running metadata service.
type IMDS struct {
	// URL is http://127.0.0.1:<port>, what --s3-iam-endpoint takes.
	URL string
	// Log is the path of the emulator's log (it logs every request).
	Log string

	proc *process
}

// IMDSBinary returns the path of the ec2-metadata-mock binary, or an error
// telling how to build it.
func IMDSBinary() (string, error) {
	return binary("AEMM_BIN", "ec2-metadata-mock", "aemm")
}

// StartIMDS starts the metadata service on a free 127.0.0.1 port for t and
// stops it when t ends.
func StartIMDS(t testing.TB, o IMDSOptions) *IMDS {
	t.Helper()
	bin, err := IMDSBinary()
	if err != nil {
		t.Fatal(err)
	}
	return startRetrying(t, "the EC2 metadata mock", func() (*IMDS, error) { return startIMDS(t, bin, o) })
}

// aemmCredentials is the mock's JSON of a role's security credentials,
// the shape EC2 serves.
type aemmCredentials struct {
	Code            string `json:"Code"`
	LastUpdated     string `json:"LastUpdated"`
	Type            string `json:"Type"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
}

func startIMDS(t testing.TB, bin string, o IMDSOptions) (*IMDS, error) {
	dir := t.TempDir()
	port := FreePort()
	role := o.Role
	if role == "" {
		role = DefaultIAMRole
	}
	exp := o.Credentials.Expiration
	if exp.IsZero() {
		exp = time.Now().Add(time.Hour)
	}
	cfg := map[string]any{
		"imdsv2": !o.AllowIMDSv1,
		"server": map[string]string{"hostname": "127.0.0.1", "port": strconv.Itoa(port)},
		"metadata": map[string]any{"values": map[string]any{
			// The mock substitutes the role into the credentials' path.
			"iam-security-credentials-role": role,
			"iam-security-credentials": aemmCredentials{
				Code: "Success", LastUpdated: time.Now().UTC().Format(time.RFC3339), Type: "AWS-HMAC",
				AccessKeyID: o.Credentials.AccessKeyID, SecretAccessKey: o.Credentials.SecretAccessKey,
				Token: o.Credentials.SessionToken, Expiration: exp.UTC().Format(time.RFC3339),
			},
		}},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(dir, "aemm-config.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		return nil, err
	}
	m := &IMDS{URL: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Log: filepath.Join(dir, "aemm.log")}
	// HOME: the mock looks for $HOME/aemm-config.json and may write there.
	m.proc, err = startProcess(t, bin, []string{"--config-file", cfgFile}, []string{"HOME=" + dir}, m.Log)
	if err != nil {
		return nil, err
	}
	if err := m.waitServing(); err != nil {
		m.proc.stop()
		log, _ := os.ReadFile(m.Log)
		return nil, fmt.Errorf("%w; log: %s", err, tail(string(log), 2000))
	}
	return m, nil
}

// waitServing waits until the token endpoint answers.
func (m *IMDS) waitServing() error {
	c := http.Client{Timeout: 2 * time.Second}
	return m.proc.waitOK("the metadata mock on "+m.URL, func() (*http.Response, error) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, m.URL+credentials.TokenPath, nil)
		req.Header.Set(credentials.TokenRequestTTLHeader, "60")
		return c.Do(req)
	})
}

// Stop terminates the metadata service by PID and waits for it; requests
// to URL are then refused. Safe to call more than once.
func (m *IMDS) Stop() { m.proc.stop() }

// BucketPolicy is an IAM policy (JSON) allowing every S3 action on the
// given buckets and their objects, and nothing else.
func BucketPolicy(buckets ...string) string {
	var res []string
	for _, b := range buckets {
		res = append(res, "arn:aws:s3:::"+b, "arn:aws:s3:::"+b+"/*")
	}
	p, _ := json.Marshal(map[string]any{
		"Version":   "2012-10-17",
		"Statement": []map[string]any{{"Effect": "Allow", "Action": []string{"s3:*"}, "Resource": res}},
	})
	return string(p)
}

// AssumeRole asks MinIO's STS (AssumeRole, signed with the root
// credentials) for temporary credentials of 15 minutes, the shortest STS
// issues; policy, when not empty, is the session policy that limits them
// (BucketPolicy). MinIO enforces it: the credentials can do no more than
// the policy allows.
func (s *Server) AssumeRole(t testing.TB, policy string) credentials.Value {
	t.Helper()
	scheme := "http://"
	if s.Secure {
		scheme = "https://"
	}
	sts, err := credentials.NewSTSAssumeRole(scheme+s.Endpoint, credentials.STSAssumeRoleOptions{
		AccessKey: s.AccessKey, SecretKey: s.SecretKey, Policy: policy, DurationSeconds: 900,
	})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := s.transport()
	if err != nil {
		t.Fatal(err)
	}
	v, err := sts.GetWithContext(&credentials.CredContext{Client: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatalf("AssumeRole at MinIO: %v", err)
	}
	if v.SessionToken == "" || v.AccessKeyID == s.AccessKey {
		t.Fatalf("AssumeRole gave no temporary credentials: %+v", v)
	}
	return v
}
