package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/metadata"

	"quorum.dev/etcd-operator/internal/contract"
)

// TestJWTTokenSurvivesRestart turns auth on in a member serving jwt
// tokens, takes a token, restarts the member from its data dir, and reads
// with the same token: a jwt token is checked against the signing key, not
// against the member's memory (a simple token would be gone).
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
