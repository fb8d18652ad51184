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

func TestSetRootPasswordAndRejection(t *testing.T) {
	t.Parallel()
	ep := startEtcd(t, "rootpw")
	ctx := context.Background()
	anon, err := New(Config{Endpoints: []string{ep}})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if err := anon.EnableAuth(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	root, err := New(Config{Endpoints: []string{ep}, Username: RootUser, Password: "first"})
	if err != nil {
		t.Fatalf("root with the enabled password: %v", err)
	}
	defer root.Close()
	if err := root.SetRootPassword(ctx, "second"); err != nil {
		t.Fatal(err)
	}
	if err := root.SetRootPassword(ctx, ""); err == nil {
		t.Fatal("empty password accepted")
	}
	_, err = New(Config{Endpoints: []string{ep}, Username: RootUser, Password: "first"})
	if !AuthRejected(err) {
		t.Fatalf("old password after the change: %v, want a rejection", err)
	}
	ok, err := New(Config{Endpoints: []string{ep}, Username: RootUser, Password: "second"})
	if err != nil {
		t.Fatalf("new password: %v", err)
	}
	defer ok.Close()
	if _, _, err := ok.MemberList(ctx); err != nil {
		t.Fatal(err)
	}
	if AuthRejected(errors.New("context deadline exceeded")) {
		t.Fatal("an unrelated error counted as a rejection")
	}
}
