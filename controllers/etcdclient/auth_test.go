package etcdclient

import (
	"context"
	"errors"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func TestEnableAuthIsIdempotentAndEnforced(t *testing.T) {
	t.Parallel()
	ep := startEtcd(t, "auth")
	c, err := New(Config{Endpoints: []string{ep}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if on, err := c.AuthEnabled(ctx); err != nil || on {
		t.Fatalf("fresh cluster: auth %v, %v", on, err)
	}
	// A half-done earlier pass: root exists with another password.
	raw, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.UserAdd(ctx, "root", "old"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnableAuth(ctx, "s3cret"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnableAuth(ctx, "s3cret"); err != nil {
		t.Fatalf("second EnableAuth: %v", err)
	}

	// Anonymous writes are refused now.
	if _, err := raw.Put(ctx, "k", "v"); !errors.Is(err, rpctypes.ErrUserEmpty) && !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("anonymous put: %v, want a refusal", err)
	}
	// The old password does not work, the new one does.
	if bad, err := New(Config{Endpoints: []string{ep}, Username: "root", Password: "old"}); err == nil {
		_, _, err = bad.MemberList(ctx)
		bad.Close()
		if err == nil {
			t.Fatal("old root password still accepted")
		}
	}
	root, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, Username: "root", Password: "s3cret", Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := root.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("root put: %v", err)
	}
	if err := c.EnableAuth(ctx, ""); err == nil {
		t.Fatal("empty password accepted")
	}
}
