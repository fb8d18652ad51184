package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.uber.org/zap"
	"google.golang.org/grpc/metadata"

	"quorum.dev/etcd-operator/internal/contract"
)

// TestJWTTokenSurvivesRestart turns auth on in a member serving jwt
// tokens, takes a token, restarts the member from its data dir, and reads
// with the same token: a jwt token is checked against the signing key, not
// against the member's memory (a simple token would be gone). The mounted
// key is garbage at the restart: the member uses the key it kept.
func TestJWTTokenSurvivesRestart(t *testing.T) {
	t.Parallel()
	s := localSettings(t, "jwt-0", "")
	s.AuthToken, s.AuthTokenKeyDir, s.AuthTokenTTL = contract.AuthTokenJWT, writeTokenKeyDir(t), time.Hour
	m := startMember(t, s)
	waitStatus(t, m, m.metricsURL("/readyz"), http.StatusOK)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli := newClient(t, "", s.AdvertiseClientURL)
	if _, err := cli.UserAdd(ctx, "root", "secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Authenticate(ctx, "root", "secret")
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	if strings.Count(resp.Token, ".") != 2 {
		t.Fatalf("token %q is not a JWT (header.claims.signature)", resp.Token)
	}
	withToken := metadata.AppendToOutgoingContext(ctx, rpctypes.TokenFieldNameGRPC, resp.Token)
	if _, err := cli.Put(withToken, "k", "before"); err != nil {
		t.Fatalf("put with the token: %v", err)
	}

	if err := m.stop(t); err != nil {
		t.Fatal(err)
	}
	// Meanwhile somebody wrote garbage into the key's Secret: the member
	// starts with the key it started with before (kept on its volume).
	if err := os.WriteFile(filepath.Join(s.AuthTokenKeyDir, contract.AuthTokenPrivateKeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.ClusterState, s.InitialCluster = ClusterStateExisting, nil
	m2 := startMember(t, s)
	waitStatus(t, m2, m2.metricsURL("/readyz"), http.StatusOK)

	cli2 := newClient(t, "", s.AdvertiseClientURL)
	got, err := cli2.Get(withToken, "k")
	if err != nil {
		t.Fatalf("get with the token taken before the restart: %v", err)
	}
	if len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "before" {
		t.Fatalf("get = %v", got.Kvs)
	}
	if _, err := cli2.Get(ctx, "k"); err == nil {
		t.Fatal("get without a token succeeded with auth on")
	}
}

// pinTokenKey keeps a valid mounted key, falls back to the kept one when
// the mounted key is unusable, and refuses when there is none to fall
// back to, or when the halves do not match.
func TestPinTokenKey(t *testing.T) {
	lg := zap.NewNop()
	mounted := writeTokenKeyDir(t)
	s := Settings{AuthToken: contract.AuthTokenJWT, AuthTokenKeyDir: mounted, DataDir: filepath.Join(t.TempDir(), "data")}
	if err := pinTokenKey(lg, &s); err != nil || s.AuthTokenKeyDir != mounted {
		t.Fatalf("valid key: dir %s, err %v; want the mounted dir", s.AuthTokenKeyDir, err)
	}
	if err := checkTokenKey(pinnedTokenKeyDir(s.DataDir)); err != nil {
		t.Fatalf("the kept copy: %v", err)
	}

	if err := os.WriteFile(filepath.Join(mounted, contract.AuthTokenPrivateKeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := pinTokenKey(lg, &s); err != nil || s.AuthTokenKeyDir != pinnedTokenKeyDir(s.DataDir) {
		t.Fatalf("garbage key: dir %s, err %v; want the kept copy", s.AuthTokenKeyDir, err)
	}

	fresh := Settings{AuthToken: contract.AuthTokenJWT, AuthTokenKeyDir: mounted, DataDir: filepath.Join(t.TempDir(), "data")}
	if err := pinTokenKey(lg, &fresh); err == nil || !strings.Contains(err.Error(), "no key this member started with before") {
		t.Fatalf("garbage key, nothing kept: err %v", err)
	}

	other := writeTokenKeyDir(t)
	mixed := writeTokenKeyDir(t)
	b, err := os.ReadFile(filepath.Join(other, contract.AuthTokenPublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mixed, contract.AuthTokenPublicKeyFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkTokenKey(mixed); err == nil || !strings.Contains(err.Error(), "not the private key's") {
		t.Fatalf("mismatched halves: err %v", err)
	}

	simple := Settings{AuthToken: contract.AuthTokenSimple, AuthTokenKeyDir: mounted, DataDir: "/nonexistent/data"}
	if err := pinTokenKey(lg, &simple); err != nil {
		t.Fatalf("simple tokens need no key: %v", err)
	}
}
