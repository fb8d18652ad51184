package render

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// podS3 is what a pod gets to reach a bucket: service account, flags,
// environment and volumes, from any of the pods that do.
type podS3 struct {
	sa     string
	args   []string
	env    map[string]corev1.EnvVar
	vols   map[string]corev1.Volume
	mounts map[string]string
}

func s3Of(spec corev1.PodSpec, c corev1.Container) podS3 {
	p := podS3{sa: spec.ServiceAccountName, args: c.Args, env: map[string]corev1.EnvVar{}, vols: map[string]corev1.Volume{}, mounts: map[string]string{}}
	for _, e := range c.Env {
		p.env[e.Name] = e
	}
	for _, v := range spec.Volumes {
		p.vols[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		p.mounts[m.Name] = m.MountPath
	}
	return p
}

// TestS3CredentialModes renders each credential mode of an S3 location
// into every pod that reaches the bucket: the backup, verify and prune
// Jobs and the members' restore init container.
func TestS3CredentialModes(t *testing.T) {
	secret := etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", CredentialsSecretName: "creds"}
	web := etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", Region: "eu-west-1", WebIdentity: &etcdv1.S3WebIdentity{
		ServiceAccountName: "etcd-backup", RoleARN: "arn:aws:iam::123456789012:role/etcd-backup"}}
	webCustom := etcdv1.S3Location{Endpoint: "minio:9000", Bucket: "bkt", WebIdentity: &etcdv1.S3WebIdentity{
		ServiceAccountName: "sa", Audience: "sts.minio", STSEndpoint: "https://minio:9000", ExpirationSeconds: ptr.To[int64](900)}}
	instance := etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", InstanceRole: &etcdv1.S3InstanceRole{}}
	instanceSA := etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", InstanceRole: &etcdv1.S3InstanceRole{
		ServiceAccountName: "pod-identity", Endpoint: "http://198.18.0.1:1338"}}

	pods := map[string]func(loc etcdv1.S3Location, sessionToken bool) podS3{
		"backup job": func(loc etcdv1.S3Location, _ bool) podS3 {
			b := backup(func(b *etcdv1.EtcdBackup) { b.Spec.Destination.S3 = &loc })
			pod := BackupJob(b, cluster(nil), opts).Spec.Template.Spec
			return s3Of(pod, pod.Containers[0])
		},
		"prune job": func(loc etcdv1.S3Location, _ bool) podS3 {
			b := backup(func(b *etcdv1.EtcdBackup) { b.Spec.Destination.S3 = &loc })
			pod := PruneJob(b, nil, opts).Spec.Template.Spec
			return s3Of(pod, pod.Containers[0])
		},
		"verify job": func(loc etcdv1.S3Location, _ bool) podS3 {
			r := &etcdv1.EtcdRestore{}
			r.Name, r.Namespace = "r", "prod"
			pod := VerifyJob(r, cluster(nil), &RestoreSource{Location: etcdv1.BackupLocation{S3: &loc}, Key: "k"}, opts, "").Spec.Template.Spec
			return s3Of(pod, pod.Containers[0])
		},
		"restore init container": func(loc etcdv1.S3Location, sessionToken bool) podS3 {
			src := &RestoreSource{Location: etcdv1.BackupLocation{S3: &loc}, Key: "k", SessionToken: sessionToken}
			pod := StatefulSet(cluster(nil), opts, 3, Revision{}, src).Spec.Template.Spec
			for _, c := range pod.InitContainers {
				if c.Name == "restore" {
					return s3Of(pod, c)
				}
			}
			t.Fatal("no restore init container")
			return podS3{}
		},
	}
	for name, render := range pods {
		t.Run(name, func(t *testing.T) {
			// Static keys: the Secret's keys as environment, session token optional.
			p := render(secret, true)
			if p.sa != "" || hasArgPrefix(p.args, "--s3-credentials") {
				t.Errorf("secret: service account %q, args %v", p.sa, p.args)
			}
			for _, k := range []string{S3AccessKeyIDKey, S3SecretAccessKeyKey, S3SessionTokenKey} {
				ref := p.env[k].ValueFrom
				if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "creds" || ref.SecretKeyRef.Key != k {
					t.Errorf("secret: env %s = %+v", k, p.env[k])
					continue
				}
				if opt := ptr.Deref(ref.SecretKeyRef.Optional, false); opt != (k == S3SessionTokenKey) {
					t.Errorf("secret: env %s optional=%t", k, opt)
				}
			}

			// Web identity on AWS: the service account, its token projected for STS, the role.
			p = render(web, false)
			if p.sa != "etcd-backup" || !slices.Contains(p.args, "--s3-credentials=web-identity") || hasArgPrefix(p.args, "--s3-sts-endpoint") {
				t.Errorf("web identity: service account %q, args %v", p.sa, p.args)
			}
			if p.env["AWS_WEB_IDENTITY_TOKEN_FILE"].Value != S3TokenFile || p.env["AWS_ROLE_ARN"].Value != "arn:aws:iam::123456789012:role/etcd-backup" {
				t.Errorf("web identity env: %+v", p.env)
			}
			if _, ok := p.env[S3AccessKeyIDKey]; ok {
				t.Errorf("web identity with static keys: %+v", p.env)
			}
			checkToken(t, p, etcdv1.DefaultWebIdentityAudience, DefaultWebIdentityTokenSeconds)

			// Web identity elsewhere: audience, STS endpoint and token life as given; no role.
			p = render(webCustom, false)
			if p.sa != "sa" || !slices.Contains(p.args, "--s3-sts-endpoint=https://minio:9000") {
				t.Errorf("custom web identity: service account %q, args %v", p.sa, p.args)
			}
			if _, ok := p.env["AWS_ROLE_ARN"]; ok {
				t.Errorf("AWS_ROLE_ARN without a role: %+v", p.env)
			}
			checkToken(t, p, "sts.minio", 900)

			// Instance role: no keys, no token, no AWS_* variable (minio-go's
			// provider would take AWS_WEB_IDENTITY_TOKEN_FILE or
			// AWS_CONTAINER_* over the metadata service; EKS Pod Identity's
			// webhook injects its own), no endpoint flag unless given; the
			// service account and endpoint when given.
			p = render(instance, false)
			if p.sa != "" || !slices.Contains(p.args, "--s3-credentials=instance-role") || hasArgPrefix(p.args, "--s3-iam-endpoint") {
				t.Errorf("instance role: service account %q, args %v", p.sa, p.args)
			}
			for name := range p.env {
				if strings.HasPrefix(name, "AWS_") {
					t.Errorf("instance role: env %s", name)
				}
			}
			if _, ok := p.vols["s3-token"]; ok {
				t.Error("instance role with a projected token")
			}
			p = render(instanceSA, false)
			if p.sa != "pod-identity" || !slices.Contains(p.args, "--s3-iam-endpoint=http://198.18.0.1:1338") {
				t.Errorf("instance role with service account: %q, args %v", p.sa, p.args)
			}
		})
	}

	// The members' template passes AWS_SESSION_TOKEN only when the Secret
	// holds one, so that clusters restored with long-lived keys keep their
	// template across an operator upgrade.
	p := pods["restore init container"](secret, false)
	if _, ok := p.env[S3SessionTokenKey]; ok {
		t.Error("restore init container passes AWS_SESSION_TOKEN though the Secret has none")
	}
	// Jobs never mount the API server token, whatever the service account.
	b := backup(func(b *etcdv1.EtcdBackup) { b.Spec.Destination.S3 = &web })
	if pod := BackupJob(b, cluster(nil), opts).Spec.Template.Spec; !ptr.Equal(pod.AutomountServiceAccountToken, ptr.To(false)) {
		t.Error("backup job mounts the API token")
	}
}

func checkToken(t *testing.T, p podS3, audience string, seconds int64) {
	t.Helper()
	v, ok := p.vols["s3-token"]
	if !ok || v.Projected == nil || len(v.Projected.Sources) != 1 || v.Projected.Sources[0].ServiceAccountToken == nil {
		t.Fatalf("no projected token volume: %+v", v)
	}
	tok := v.Projected.Sources[0].ServiceAccountToken
	if tok.Audience != audience || ptr.Deref(tok.ExpirationSeconds, 0) != seconds || tok.Path != "token" {
		t.Errorf("token projection %+v, want audience %s for %ds", tok, audience, seconds)
	}
	if p.mounts["s3-token"]+"/token" != S3TokenFile {
		t.Errorf("token mounted at %q, AWS_WEB_IDENTITY_TOKEN_FILE is %s", p.mounts["s3-token"], S3TokenFile)
	}
}

func hasArgPrefix(args []string, prefix string) bool {
	return slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, prefix) })
}

func TestS3ServiceAccount(t *testing.T) {
	for _, tc := range []struct {
		name        string
		s3          *etcdv1.S3Location
		want, field string
	}{
		{"no S3 location", nil, "", ""},
		{"static keys", &etcdv1.S3Location{CredentialsSecretName: "creds"}, "", ""},
		{"web identity", &etcdv1.S3Location{WebIdentity: &etcdv1.S3WebIdentity{ServiceAccountName: "sa"}}, "sa", "webIdentity.serviceAccountName"},
		{"instance role with an account", &etcdv1.S3Location{InstanceRole: &etcdv1.S3InstanceRole{ServiceAccountName: "pi"}}, "pi", "instanceRole.serviceAccountName"},
		{"instance role without one", &etcdv1.S3Location{InstanceRole: &etcdv1.S3InstanceRole{}}, "", ""},
	} {
		if got, field := S3ServiceAccount(tc.s3); got != tc.want || field != tc.field {
			t.Errorf("%s: S3ServiceAccount = %q, %q; want %q, %q", tc.name, got, field, tc.want, tc.field)
		}
	}
}
