package server

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"quorum.dev/etcd-operator/internal/contract"
)

// pinnedTokenKeyDir is where a member keeps the JWT key it last started
// with: next to etcd's data directory, on the same volume, so it outlives
// the pod.
func pinnedTokenKeyDir(dataDir string) string {
	return filepath.Join(filepath.Dir(dataDir), "auth-token-key")
}

// pinTokenKey makes a member start with a usable JWT key. The key is
// mounted from a Secret that a person can edit; a key etcd cannot parse
// would stop the member at start ("invalid key: Key must be a PEM encoded
// PKCS1 or PKCS8 key"), so a member restarted by a node reboot while the
// Secret holds garbage would crash-loop, and a second one would lose
// quorum. So:
//   - a valid mounted key (parsed as etcd parses it, with golang-jwt, and
//     its public half matching) is copied next to the data directory and
//     used;
//   - an invalid one is replaced by the copy this member last started
//     with, when there is one, with a warning: the member keeps running
//     with the key it had, as a running member does (the operator reports
//     the Secret as AuthTokenKeyInvalid and replaces it);
//   - with no valid copy either, the mounted key's error is returned.
//
// Only for jwt tokens; s.AuthTokenKeyDir is changed to the directory used.
func pinTokenKey(lg *zap.Logger, s *Settings) error {
	if s.AuthToken != contract.AuthTokenJWT || s.AuthTokenKeyDir == "" || s.DataDir == "" {
		return nil
	}
	pinned := pinnedTokenKeyDir(s.DataDir)
	mountErr := checkTokenKey(s.AuthTokenKeyDir)
	if mountErr == nil {
		if err := copyTokenKey(s.AuthTokenKeyDir, pinned); err != nil {
			// Not fatal: the mounted key is good; only the fallback is lost.
			lg.Warn("could not keep a copy of the JWT key", zap.String("dir", pinned), zap.Error(err))
		}
		return nil
	}
	if err := checkTokenKey(pinned); err != nil {
		return fmt.Errorf("the JWT key in %s is unusable (%w) and no key this member started with before is kept in %s", s.AuthTokenKeyDir, mountErr, pinned)
	}
	lg.Warn("the mounted JWT key is unusable; starting with the key this member last started with",
		zap.String("mounted", s.AuthTokenKeyDir), zap.String("kept", pinned), zap.Error(mountErr))
	s.AuthTokenKeyDir = pinned
	return nil
}

// checkTokenKey parses the key pair in dir as etcd does (ES256: an ECDSA
// private key and its public key in PEM) and checks that they match.
func checkTokenKey(dir string) error {
	privPEM, err := os.ReadFile(filepath.Join(dir, contract.AuthTokenPrivateKeyFile))
	if err != nil {
		return err
	}
	pubPEM, err := os.ReadFile(filepath.Join(dir, contract.AuthTokenPublicKeyFile))
	if err != nil {
		return err
	}
	priv, err := jwt.ParseECPrivateKeyFromPEM(privPEM)
	if err != nil {
		return fmt.Errorf("private key: %w", err)
	}
	pub, err := jwt.ParseECPublicKeyFromPEM(pubPEM)
	if err != nil {
		return fmt.Errorf("public key: %w", err)
	}
	if !priv.PublicKey.Equal((*ecdsa.PublicKey)(pub)) {
		return errors.New("the public key is not the private key's")
	}
	return nil
}

// copyTokenKey copies the key pair from src to dst, each file written
// whole (a temporary file renamed).
func copyTokenKey(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	for _, name := range []string{contract.AuthTokenPrivateKeyFile, contract.AuthTokenPublicKeyFile} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return err
		}
		tmp := filepath.Join(dst, "."+name+".tmp")
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dst, name)); err != nil {
			return err
		}
	}
	return nil
}
