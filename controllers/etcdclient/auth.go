package etcdclient

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// RootUser is etcd's superuser, and the role that makes it one.
const RootUser = "root"

func (c *client) AuthEnabled(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	resp, err := c.c.AuthStatus(ctx)
	if err != nil {
		return false, fmt.Errorf("reading auth status: %w", err)
	}
	return resp.Enabled, nil
}

func (c *client) EnableAuth(ctx context.Context, rootPassword string) error {
	if rootPassword == "" {
		return errors.New("empty root password")
	}
	enabled, err := c.AuthEnabled(ctx)
	if err != nil || enabled {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 4*RequestTimeout)
	defer cancel()
	if _, err := c.c.UserAdd(ctx, RootUser, rootPassword); err != nil {
		if !errors.Is(err, rpctypes.ErrUserAlreadyExist) {
			return fmt.Errorf("adding user root: %w", err)
		}
		// An earlier pass may have stopped half way: make the password the
		// one in the Secret.
		if _, err := c.c.UserChangePassword(ctx, RootUser, rootPassword); err != nil {
			return fmt.Errorf("setting root password: %w", err)
		}
	}
	if _, err := c.c.RoleAdd(ctx, RootUser); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		return fmt.Errorf("adding role root: %w", err)
	}
	if _, err := c.c.UserGrantRole(ctx, RootUser, RootUser); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		return fmt.Errorf("granting role root to user root: %w", err)
	}
	if _, err := c.c.AuthEnable(ctx); err != nil {
		return fmt.Errorf("enabling auth: %w", err)
	}
	return nil
}

func (c *client) SetRootPassword(ctx context.Context, password string) error {
	if password == "" {
		return errors.New("empty root password")
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	if _, err := c.c.UserChangePassword(ctx, RootUser, password); err != nil {
		return fmt.Errorf("changing the root password: %w", err)
	}
	return nil
}

// AuthRejected reports whether err says that etcd refused the client's user
// name and password (rpctypes.ErrAuthFailed), as opposed to an unreachable
// cluster.
func AuthRejected(err error) bool {
	return errors.Is(err, rpctypes.ErrAuthFailed)
}
