package s3client

import "testing"

// TestInstanceRoleOrigin follows minio-go's credentials.IAM order: a web
// identity token file, an ECS relative URI, EKS Pod Identity (full URI and
// token file), another full URI, else the metadata service.
func TestInstanceRoleOrigin(t *testing.T) {
	for _, tc := range []struct {
		name, endpoint string
		env            map[string]string
		want           string
	}{
		{"EC2 by default", "", nil, "the instance metadata service at http://169.254.169.254"},
		{"endpoint given", "http://198.18.0.1:1338", nil, "the instance metadata service at http://198.18.0.1:1338"},
		{"EKS Pod Identity", "", map[string]string{
			"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "http://169.254.170.23/v1/credentials",
			"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token",
		}, "EKS Pod Identity at http://169.254.170.23/v1/credentials"},
		{"EKS Pod Identity ignores the endpoint", "http://198.18.0.1:1338", map[string]string{
			"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/t",
		}, "EKS Pod Identity at http://169.254.170.23/v1/credentials"},
		{"container URI without token file", "", map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9911/creds"},
			"the container credentials endpoint http://127.0.0.1:9911/creds"},
		{"ECS task role", "", map[string]string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"},
			"the ECS task role endpoint http://169.254.170.2/v2/credentials/abc"},
		{"IRSA variables injected", "", map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_REGION": "eu-west-1"},
			"STS at https://sts.eu-west-1.amazonaws.com (web identity token $AWS_WEB_IDENTITY_TOKEN_FILE)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := InstanceRoleOrigin(tc.endpoint, func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
