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
	// instance metadata service at Options.IAMEndpoint (EC2's by default;
	// IMDSv2, with IMDSv1 when the token request goes unanswered), again
	// before the credentials expire. InstanceRoleOrigin has the full order.
	SourceInstanceRole Source = "instance-role"
)

// Sources lists the valid values of Source, for messages.
var Sources = []Source{SourceStatic, SourceWebIdentity, SourceInstanceRole}

// CredentialsError is a failure to obtain credentials (not a request the
// S3 server refused): an STS that rejected the token, a token file that
// cannot be read, an unreachable metadata service.
type CredentialsError struct {
	Source Source
	// Where names the STS endpoint asked, or for SourceInstanceRole its
	// InstanceRoleOrigin.
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

// stsEndpoint is the STS URL web identity credentials are asked of.
func (o Options) stsEndpoint() string {
	if o.STSEndpoint != "" {
		return o.STSEndpoint
	}
	return DefaultSTSEndpoint(o.Region)
}

// iamEndpoint is IAMEndpoint without a trailing slash: minio-go appends
// the token path to the endpoint as given, and a trailing slash would ask
// for //latest/api/token.
func (o Options) iamEndpoint() string { return strings.TrimRight(o.IAMEndpoint, "/") }

// Origin says where the credentials of o come from, for messages: "" for
// static keys, "STS at <URL>" for web identity, InstanceRoleOrigin for an
// instance role (getenv is the process environment).
func (o Options) Origin(getenv func(string) string) string {
	switch o.Credentials {
	case SourceWebIdentity:
		return "STS at " + o.stsEndpoint()
	case SourceInstanceRole:
		return InstanceRoleOrigin(o.iamEndpoint(), getenv)
	}
	return ""
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
		sts := o.stsEndpoint()
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
		p := &credentials.IAM{Endpoint: o.iamEndpoint()}
		return credentials.New(&wrapped{p: p, source: o.Credentials, where: o.Origin(os.Getenv)}), nil
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
		if w.source == SourceInstanceRole && strings.HasPrefix(w.where, imdsOrigin) && err.Error() == "401 Unauthorized" {
			err = fmt.Errorf("%w: %s", err, noIMDSv2Token)
		}
		return v, &CredentialsError{Source: w.source, Where: w.where, Err: err}
	}
	return v, nil
}

func (w *wrapped) Retrieve() (credentials.Value, error) { return w.RetrieveWithCredContext(nil) }

func (w *wrapped) IsExpired() bool { return w.p.IsExpired() }

// imdsOrigin starts the InstanceRoleOrigin of the instance metadata service.
const imdsOrigin = "the instance metadata service at "

// noIMDSv2Token explains a 401 of the metadata service: minio-go asks for
// an IMDSv2 session token (PUT /latest/api/token, one second), falls back
// to IMDSv1 when that goes unanswered, and a service requiring IMDSv2
// refuses it. The usual cause in a pod: EC2 sends the token's answer with
// the instance's hop limit (HttpPutResponseHopLimit, 1 by default), and
// the hop from the node into the pod's network namespace uses it up.
const noIMDSv2Token = "the service requires IMDSv2 and its session token (PUT /latest/api/token) got no answer; " +
	"in a pod that is the instance's metadata hop limit (HttpPutResponseHopLimit): it must be at least 2"

// InstanceRoleOrigin says where SourceInstanceRole gets its credentials
// with endpoint as Options.IAMEndpoint (without trailing slash) and the
// process environment getenv, in the order of minio-go's credentials.IAM:
// STS with a web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE, what the
// EKS IRSA webhook injects; endpoint is then the STS URL), an ECS task
// role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI), EKS Pod Identity
// (AWS_CONTAINER_CREDENTIALS_FULL_URI with
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) or another container credentials
// URL, else the instance metadata service at endpoint (EC2's when empty).
// For messages: "the instance metadata service at http://169.254.169.254".
func InstanceRoleOrigin(endpoint string, getenv func(string) string) string {
	full := getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	switch {
	case getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != "":
		sts := endpoint
		if sts == "" {
			sts = DefaultSTSEndpoint(getenv("AWS_REGION"))
		}
		return "STS at " + sts + " (web identity token $AWS_WEB_IDENTITY_TOKEN_FILE)"
	case getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "":
		if endpoint == "" {
			endpoint = credentials.DefaultECSRoleEndpoint + getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
		}
		return "the ECS task role endpoint " + endpoint
	case full != "" && getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") != "":
		return "EKS Pod Identity at " + full
	case full != "":
		if endpoint == "" {
			endpoint = full
		}
		return "the container credentials endpoint " + endpoint
	case endpoint == "":
		endpoint = credentials.DefaultIAMRoleEndpoint
	}
	return imdsOrigin + endpoint
}
