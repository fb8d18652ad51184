package etcdclient

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// PermissionType is etcd's permission on a key range.
type PermissionType int32

// The permission types, as authpb.Permission_Type numbers them.
const (
	PermRead      = PermissionType(authpb.READ)
	PermWrite     = PermissionType(authpb.WRITE)
	PermReadWrite = PermissionType(authpb.READWRITE)
)

// Permission grants Type on the keys [Key, RangeEnd); an empty RangeEnd
// is the one key Key, "\x00" every key from Key on.
type Permission struct {
	Key, RangeEnd string
	Type          PermissionType
}

// User is an application's etcd user and its one role.
type User struct {
	Name, Role string
	// Password is set for a password user; empty makes a user that
	// authenticates only by a client certificate whose CN is Name (etcd's
	// NoPassword option).
	Password string
	// ResetPassword sets Password even when the user exists already
	// (etcd's UserChangePassword, which logs out the user's tokens); off,
	// an existing user keeps its password.
	ResetPassword bool
	// Permissions are exactly the role's: others are revoked.
	Permissions []Permission
}

// EnsureUser makes the role hold exactly u.Permissions, the user exist
// and have the role. Safe to repeat; each call is bounded by
// RequestTimeout.
func (c *client) EnsureUser(ctx context.Context, u User) error {
	if u.Name == "" || u.Name == RootUser || u.Role == "" || u.Role == RootUser {
		return fmt.Errorf("refusing to manage etcd user %q with role %q", u.Name, u.Role)
	}
	ctx, cancel := context.WithTimeout(ctx, 4*RequestTimeout)
	defer cancel()
	// Reads first: an idle pass proposes nothing to raft (a refused
	// RoleAdd or UserAdd is still a proposal).
	role, err := c.c.RoleGet(ctx, u.Role)
	if errors.Is(err, rpctypes.ErrRoleNotFound) {
		if _, err := c.c.RoleAdd(ctx, u.Role); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
			return fmt.Errorf("adding role %s: %w", u.Role, err)
		}
		role, err = c.c.RoleGet(ctx, u.Role)
	}
	if err != nil {
		return fmt.Errorf("reading role %s: %w", u.Role, err)
	}
	type rng struct{ k, e string }
	want := map[rng]PermissionType{}
	for _, p := range u.Permissions {
		want[rng{p.Key, p.RangeEnd}] = p.Type
	}
	have := map[rng]PermissionType{}
	for _, p := range role.Perm {
		r := rng{string(p.Key), string(p.RangeEnd)}
		have[r] = PermissionType(p.PermType)
		if _, ok := want[r]; !ok {
			if _, err := c.c.RoleRevokePermission(ctx, u.Role, r.k, r.e); err != nil {
				return fmt.Errorf("revoking [%q, %q) from role %s: %w", r.k, r.e, u.Role, err)
			}
		}
	}
	for _, p := range u.Permissions {
		if t, ok := have[rng{p.Key, p.RangeEnd}]; ok && t == p.Type {
			continue
		}
		// A grant on a range the role has already replaces its type.
		if _, err := c.c.RoleGrantPermission(ctx, u.Role, p.Key, p.RangeEnd, clientv3.PermissionType(p.Type)); err != nil {
			return fmt.Errorf("granting [%q, %q) to role %s: %w", p.Key, p.RangeEnd, u.Role, err)
		}
	}
	got, err := c.c.UserGet(ctx, u.Name)
	switch {
	case errors.Is(err, rpctypes.ErrUserNotFound):
		opts := &clientv3.UserAddOptions{NoPassword: u.Password == ""}
		if _, err := c.c.UserAddWithOptions(ctx, u.Name, u.Password, opts); err != nil {
			return fmt.Errorf("adding user %s: %w", u.Name, err)
		}
		got = &clientv3.AuthUserGetResponse{}
	case err != nil:
		return fmt.Errorf("reading user %s: %w", u.Name, err)
	case u.ResetPassword && u.Password != "":
		if _, err := c.c.UserChangePassword(ctx, u.Name, u.Password); err != nil {
			return fmt.Errorf("setting the password of user %s: %w", u.Name, err)
		}
	}
	for _, r := range got.Roles {
		if r == u.Role {
			return nil
		}
	}
	if _, err := c.c.UserGrantRole(ctx, u.Name, u.Role); err != nil {
		return fmt.Errorf("granting role %s to user %s: %w", u.Role, u.Name, err)
	}
	return nil
}

// DeleteUser removes the user and the role; either missing is not an
// error. A deleted user's tokens and certificates are refused from then on.
func (c *client) DeleteUser(ctx context.Context, name, role string) error {
	if name == RootUser || role == RootUser {
		return fmt.Errorf("refusing to delete etcd user %q or role %q", name, role)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*RequestTimeout)
	defer cancel()
	if _, err := c.c.UserDelete(ctx, name); err != nil && !errors.Is(err, rpctypes.ErrUserNotFound) {
		return fmt.Errorf("deleting user %s: %w", name, err)
	}
	if _, err := c.c.RoleDelete(ctx, role); err != nil && !errors.Is(err, rpctypes.ErrRoleNotFound) {
		return fmt.Errorf("deleting role %s: %w", role, err)
	}
	return nil
}
