package s3client

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Source is where a client gets its S3 credentials.
type Source string

// Credential sources. Their names are the values of quorum-etcd's
// --s3-credentials flag.
const (
	// SourceStatic signs with Options.AccessKeyID and SecretAccessKey, and
	// SessionToken when set (temporary STS credentials).
	SourceStatic Source = "static"
	// SourceWebIdentity exchanges the token in Options.WebIdentityTokenFile
	// for temporary credentials at Options.STSEndpoint
	// (AssumeRoleWithWebIdentity of Options.RoleARN), again before they
	// expire; the file is re-read on each exchange (the kubelet rotates
	// projected tokens).
	SourceWebIdentity Source = "web-identity"
	// SourceInstanceRole asks the environment: EKS Pod Identity or an ECS
	// task role when their AWS_CONTAINER_* variables are set, else the
	// instance metadata service at Options.IAMEndpoint (EC2's by default).
	SourceInstanceRole Source = "instance-role"
)

// Sources lists the valid values of Source, for messages.
var Sources = []Source{SourceStatic, SourceWebIdentity, SourceInstanceRole}

// CredentialsError is a failure to obtain credentials (not a request the
// S3 server refused): an STS that rejected the token, a token file that
// cannot be read, an unreachable metadata service.
type CredentialsError struct {
	Source Source
	// Where names the STS or metadata endpoint asked, or the token file.
	Where string
	Err   error
}

func (e *CredentialsError) Error() string {
	var sts credentials.ErrorResponse
	if errors.As(e.Err, &sts) && sts.STSError.Code != "" {
		return fmt.Sprintf("getting S3 credentials (%s) from %s: STS refused: %s: %s", e.Source, e.Where, sts.STSError.Code, sts.Error())
	}
	return fmt.Sprintf("getting S3 credentials (%s) from %s: %v", e.Source, e.Where, e.Err)
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// DefaultSTSEndpoint is AWS STS: regional when region is set (as the AWS
// SDKs do), else the global endpoint.
func DefaultSTSEndpoint(region string) string {
	switch {
	case region == "":
		return credentials.DefaultSTSRoleEndpoint
	case strings.HasPrefix(region, "cn-"):
		return "https://sts." + region + ".amazonaws.com.cn"
	}
	return "https://sts." + region + ".amazonaws.com"
}

// provider builds the credentials of o; hc is the client for STS (it
// trusts Options.CA too).
func provider(o Options, hc *http.Client) (*credentials.Credentials, error) {
	switch o.Credentials {
	case "", SourceStatic:
		if o.AccessKeyID == "" || o.SecretAccessKey == "" {
			return nil, errors.New("static S3 credentials need an access key ID and a secret access key")
		}
		return credentials.NewStaticV4(o.AccessKeyID, o.SecretAccessKey, o.SessionToken), nil
	case SourceWebIdentity:
		if o.WebIdentityTokenFile == "" {
			return nil, errors.New("web identity credentials need a token file")
		}
		sts := o.STSEndpoint
		if sts == "" {
			sts = DefaultSTSEndpoint(o.Region)
		}
		file := o.WebIdentityTokenFile
		p := &credentials.STSWebIdentity{
			Client:      hc,
			STSEndpoint: sts,
			RoleARN:     o.RoleARN,
			GetWebIDTokenExpiry: func() (*credentials.WebIdentityToken, error) {
				b, err := os.ReadFile(file)
				if err != nil {
					return nil, fmt.Errorf("reading the web identity token: %w", err)
				}
				t := strings.TrimSpace(string(b))
				if t == "" {
					return nil, fmt.Errorf("the web identity token file %s is empty", file)
				}
				return &credentials.WebIdentityToken{Token: t}, nil
			},
		}
		return credentials.New(&wrapped{p: p, source: o.Credentials, where: sts}), nil
	case SourceInstanceRole:
		where := o.IAMEndpoint
		if where == "" {
			where = credentials.DefaultIAMRoleEndpoint
		}
		if u := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"); u != "" {
			where = u
		}
		return credentials.New(&wrapped{p: &credentials.IAM{Endpoint: o.IAMEndpoint}, source: o.Credentials, where: where}), nil
	}
	return nil, fmt.Errorf("unknown S3 credential source %q: use one of %v", o.Credentials, Sources)
}

// wrapped marks the errors of a provider as CredentialsError, so that
// callers tell them from the S3 server's answers.
type wrapped struct {
	p      credentials.Provider
	source Source
	where  string
}

func (w *wrapped) RetrieveWithCredContext(cc *credentials.CredContext) (credentials.Value, error) {
	v, err := w.p.RetrieveWithCredContext(cc)
	if err != nil {
		return v, &CredentialsError{Source: w.source, Where: w.where, Err: err}
	}
	return v, nil
}

func (w *wrapped) Retrieve() (credentials.Value, error) { return w.RetrieveWithCredContext(nil) }

func (w *wrapped) IsExpired() bool { return w.p.IsExpired() }
