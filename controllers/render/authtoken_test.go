package render

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/contract"
)

func TestAuthTokenInThePodTemplate(t *testing.T) {
	ttl := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	tests := []struct {
		name   string
		token  etcdv1.AuthTokenSpec
		env    map[string]string // QUORUM_AUTH_TOKEN* variables rendered
		volume bool              // the signing key Secret is mounted
	}{
		{"default: jwt with etcd's 5m TTL", etcdv1.AuthTokenSpec{},
			map[string]string{contract.EnvAuthToken: "jwt", contract.EnvAuthTokenKeyDir: AuthTokenKeyDir, contract.EnvAuthTokenTTL: "5m0s"}, true},
		{"jwt with a TTL of an hour", etcdv1.AuthTokenSpec{Type: etcdv1.AuthTokenJWT, TTL: ttl(time.Hour)},
			map[string]string{contract.EnvAuthToken: "jwt", contract.EnvAuthTokenKeyDir: AuthTokenKeyDir, contract.EnvAuthTokenTTL: "1h0m0s"}, true},
		{"simple with the default TTL renders what a cluster made before tokens had", etcdv1.AuthTokenSpec{Type: etcdv1.AuthTokenSimple, TTL: ttl(5 * time.Minute)},
			map[string]string{}, false},
		{"simple with another TTL", etcdv1.AuthTokenSpec{Type: etcdv1.AuthTokenSimple, TTL: ttl(90 * time.Second)},
			map[string]string{contract.EnvAuthTokenTTL: "1m30s"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cluster(func(c *etcdv1.EtcdCluster) { c.Spec.Auth.Token = tc.token })
			sts := StatefulSet(c, opts, 3, desired(c), nil)
			got := map[string]string{}
			for name, e := range envOf(sts) {
				if strings.HasPrefix(name, "QUORUM_AUTH_TOKEN") {
					got[name] = e.Value
				}
			}
			if !maps.Equal(got, tc.env) {
				t.Errorf("env %v, want %v", got, tc.env)
			}
			job := PreflightJob(c, opts, "rev", c.MemberName(0), "")
			for what, spec := range map[string]corev1.PodSpec{"member": sts.Spec.Template.Spec, "preflight": job.Spec.Template.Spec} {
				vol := secretVolume(spec, c.AuthTokenKeySecretName())
				mounted := false
				for _, m := range spec.Containers[0].VolumeMounts {
					mounted = mounted || (vol != nil && m.Name == vol.Name && m.MountPath == AuthTokenKeyDir && m.ReadOnly)
				}
				if (vol != nil) != tc.volume || mounted != tc.volume {
					t.Errorf("%s: signing key volume %v mounted %t, want %t", what, vol, mounted, tc.volume)
				}
				if vol != nil && (len(vol.Secret.Items) != 2 || *vol.Secret.DefaultMode != 0o440) {
					t.Errorf("%s: signing key volume %+v", what, vol.Secret)
				}
			}
		})
	}
}

func secretVolume(spec corev1.PodSpec, secret string) *corev1.Volume {
	for i, v := range spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == secret {
			return &spec.Volumes[i]
		}
	}
	return nil
}

func TestAuthTokenKeyHash(t *testing.T) {
	c := cluster(nil)
	newSecret := func() map[string][]byte {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s, err := AuthTokenKeySecret(c, k)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != "db-auth-token-key" || s.Namespace != "prod" || s.Labels[etcdv1.LabelInstance] != "db" {
			t.Fatalf("secret %s/%s labels %v", s.Namespace, s.Name, s.Labels)
		}
		return s.Data
	}
	pemOf := func(typ string, der []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	}
	a, b := newSecret(), newSecret()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecDER, ecErr := x509.MarshalECPrivateKey(ecKey)
	ecPub, ecPubErr := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	p384DER, p384Err := x509.MarshalPKCS8PrivateKey(p384)
	p384Pub, p384PubErr := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	rsaDER, rsaErr := x509.MarshalPKCS8PrivateKey(rsaKey)

	tests := []struct {
		name    string
		data    map[string][]byte
		wantErr string
	}{
		{"generated", a, ""},
		{"SEC 1 private key", map[string][]byte{AuthTokenPrivateKey: pemOf("EC PRIVATE KEY", ecDER, ecErr), AuthTokenPublicKey: pemOf("PUBLIC KEY", ecPub, ecPubErr)}, ""},
		{"keys of two pairs", map[string][]byte{AuthTokenPrivateKey: a[AuthTokenPrivateKey], AuthTokenPublicKey: b[AuthTokenPublicKey]}, "does not belong"},
		{"P-384", map[string][]byte{AuthTokenPrivateKey: pemOf("PRIVATE KEY", p384DER, p384Err), AuthTokenPublicKey: pemOf("PUBLIC KEY", p384Pub, p384PubErr)}, "not an ECDSA P-256"},
		{"RSA", map[string][]byte{AuthTokenPrivateKey: pemOf("PRIVATE KEY", rsaDER, rsaErr), AuthTokenPublicKey: a[AuthTokenPublicKey]}, "not an ECDSA P-256"},
		{"public key missing", map[string][]byte{AuthTokenPrivateKey: a[AuthTokenPrivateKey]}, "must each hold a PEM block"},
		{"not PEM", map[string][]byte{AuthTokenPrivateKey: []byte("secret"), AuthTokenPublicKey: a[AuthTokenPublicKey]}, "must each hold a PEM block"},
		{"public key garbage", map[string][]byte{AuthTokenPrivateKey: a[AuthTokenPrivateKey], AuthTokenPublicKey: pemOf("PUBLIC KEY", []byte("x"), nil)}, "not a PKIX public key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := AuthTokenKeyHash(tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || h == "" {
				t.Fatalf("hash %q, error %v", h, err)
			}
		})
	}
	ha, _ := AuthTokenKeyHash(a)
	hb, _ := AuthTokenKeyHash(b)
	if again, _ := AuthTokenKeyHash(a); ha != again || ha == hb {
		t.Errorf("hashes: a %s (again %s), b %s: want stable per key and different between keys", ha, again, hb)
	}
}
