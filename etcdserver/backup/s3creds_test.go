package backup

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/minio/minio-go/v7"

	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
)

// TestS3SessionToken backs up and restores with temporary credentials
// that MinIO's STS issued (AssumeRole): the access key, secret and session
// token, as a credentials Secret with AWS_SESSION_TOKEN gives them to
// pods. A wrong session token is refused with a message naming it.
func TestS3SessionToken(t *testing.T) {
	t.Parallel()
	f := &s3Fixture{srv: s3test.Start(t), tls: writeTLSDir(t), keys: 50}
	f.src = memberSettings(t, "src", f.tls)
	f.rev = fill(t, startMember(t, f.src), f.keys)

	tmp := f.srv.AssumeRole(t, "")
	bucket := f.srv.NewBucket(t)
	env := f.env(bucket)
	env[EnvAccessKeyID], env[EnvSecretAccessKey], env[EnvSessionToken] = tmp.AccessKeyID, tmp.SecretAccessKey, tmp.SessionToken
	m := f.backup(t, env, "--key", "tmp/snap.db")
	if m.EtcdRevision != f.rev {
		t.Errorf("manifest revision %d, want %d", m.EtcdRevision, f.rev)
	}
	s := memberSettings(t, "restored", f.tls)
	f.restore(t, env, s, "--key", "tmp/snap.db")
	f.checkRestored(t, s, DefaultBumpRevision)

	t.Run("no session token", func(t *testing.T) {
		bad := f.env(bucket)
		bad[EnvAccessKeyID], bad[EnvSecretAccessKey] = tmp.AccessKeyID, tmp.SecretAccessKey
		f.restoreFails(t, bad, "the access key (AWS_ACCESS_KEY_ID) is temporary and needs its session token (AWS_SESSION_TOKEN)", "--key", "tmp/snap.db")
	})
	t.Run("wrong session token", func(t *testing.T) {
		bad := f.env(bucket)
		bad[EnvAccessKeyID], bad[EnvSecretAccessKey], bad[EnvSessionToken] = tmp.AccessKeyID, tmp.SecretAccessKey, tmp.SessionToken+"x"
		f.restoreFails(t, bad, "S3 rejected the session token (AWS_SESSION_TOKEN)", "--key", "tmp/snap.db")
	})
}

// oidcProvider is an OpenID provider on loopback: discovery document and
// JWKS of one RSA key, which signs the ID tokens the test hands out as
// projected service account tokens.
type oidcProvider struct {
	url string
	key *rsa.PrivateKey
}

func startOIDC(t *testing.T) *oidcProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &oidcProvider{url: "http://" + l.Addr().String(), key: key}
	b64 := base64.RawURLEncoding.EncodeToString
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.url, "jwks_uri": p.url + "/jwks",
			"authorization_endpoint": p.url + "/authorize", "token_endpoint": p.url + "/token",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "test", "use": "sig", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

// token is a service-account-like ID token for audience, signed by key.
func (p *oidcProvider) token(t *testing.T, key *rsa.PrivateKey, audience string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": p.url, "sub": "system:serviceaccount:ns:etcd-backup", "aud": audience,
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		"policy": "readwrite",
	})
	tok.Header["kid"] = "test"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestS3WebIdentity backs up and restores with credentials that MinIO's
// STS exchanges for a token file (AssumeRoleWithWebIdentity), the way
// pods of a webIdentity location run: MinIO trusts an OpenID provider on
// loopback whose key signs the token, and maps the token's policy claim
// to MinIO's readwrite policy. A token signed by another key is refused,
// with the STS's answer in the message.
func TestS3WebIdentity(t *testing.T) {
	t.Parallel()
	const audience = "sts.test"
	idp := startOIDC(t)
	srv := s3test.StartWith(t, s3test.Options{Env: []string{
		"MINIO_IDENTITY_OPENID_CONFIG_URL=" + idp.url + "/.well-known/openid-configuration",
		"MINIO_IDENTITY_OPENID_CLIENT_ID=" + audience,
		"MINIO_IDENTITY_OPENID_CLAIM_NAME=policy",
	}})
	f := &s3Fixture{srv: srv, tls: writeTLSDir(t), keys: 50}
	f.src = memberSettings(t, "src", f.tls)
	f.rev = fill(t, startMember(t, f.src), f.keys)
	bucket := srv.NewBucket(t)

	envWith := func(token string) map[string]string {
		return map[string]string{
			"QUORUM_S3_ENDPOINT":     srv.Endpoint,
			"QUORUM_S3_INSECURE":     "true",
			"QUORUM_S3_BUCKET":       bucket,
			"QUORUM_S3_CREDENTIALS":  "web-identity",
			"QUORUM_S3_STS_ENDPOINT": "http://" + srv.Endpoint,
			EnvWebIdentityTokenFile:  writeTestFile(t, "token", []byte(token)),
		}
	}
	env := envWith(idp.token(t, idp.key, audience))
	m := f.backup(t, env, "--key", "wi/snap.db")
	if m.EtcdRevision != f.rev || m.Location != "s3://"+bucket+"/wi/snap.db" {
		t.Errorf("manifest: %+v", m)
	}
	s := memberSettings(t, "restored", f.tls)
	f.restore(t, env, s, "--key", "wi/snap.db")
	f.checkRestored(t, s, DefaultBumpRevision)

	t.Run("prune", func(t *testing.T) {
		code, out, errOut := runCLI(t, PruneMain, env, "--key", "wi/snap.db")
		if code != ExitOK || !strings.Contains(lastLine(out), `"wi/snap.db"`) {
			t.Fatalf("prune exited %d: %s\n%s", code, out, errOut)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := srv.Client(t).StatObject(ctx, bucket, "wi/snap.db", minio.StatObjectOptions{}); err == nil {
			t.Fatal("the snapshot is still there after prune")
		}
	})
	t.Run("token of another issuer key", func(t *testing.T) {
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		f.restoreFails(t, envWith(idp.token(t, other, audience)), "getting S3 credentials (web-identity) from http://"+srv.Endpoint+": STS refused", "--key", "wi/snap.db")
	})
	t.Run("missing token file", func(t *testing.T) {
		bad := envWith("x")
		bad[EnvWebIdentityTokenFile] = bad[EnvWebIdentityTokenFile] + ".missing"
		code, _, errOut := runCLI(t, RestoreMain, bad, restoreArgs(memberSettings(t, "failed", f.tls), "--key", "wi/snap.db")...)
		if code != ExitUsage || !strings.Contains(errOut, "web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE): stat ") {
			t.Fatalf("restore: exit %d, stderr %q; want a usage error naming the token file", code, errOut)
		}
	})
}
