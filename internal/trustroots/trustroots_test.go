package trustroots

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// childEnv marks the test binary run again as a process that sees no system
// trust store, as in Quorum's scratch images.
const childEnv = "QUORUM_TRUSTROOTS_CHILD"

// verifyGoogle verifies a real public chain (www.google.com, its GTS CA 1C3
// intermediate, rooted in GTS Root R1; copied from Go's crypto/x509 tests)
// against the process's default roots, at a time inside the leaf's
// validity (2023-02-28, the time Go's tests use).
func verifyGoogle() error {
	raw, err := os.ReadFile("testdata/www.google.com-chain.pem")
	if err != nil {
		return err
	}
	var certs []*x509.Certificate
	for block, rest := pem.Decode(raw); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return err
		}
		certs = append(certs, c)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{
		DNSName:       "www.google.com",
		Intermediates: inter,
		CurrentTime:   time.Unix(1677615892, 0),
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return fmt.Errorf("default roots: %w", err)
	}
	// The S3 client starts from SystemCertPool and adds a user's CA to it.
	pool, err := x509.SystemCertPool()
	if err != nil {
		return err
	}
	opts.Roots = pool
	if _, err := certs[0].Verify(opts); err != nil {
		return fmt.Errorf("SystemCertPool: %w", err)
	}
	return nil
}

// TestMain runs the check itself when started as the child.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := verifyGoogle(); err != nil {
			fmt.Println("verify:", err)
			os.Exit(1)
		}
		fmt.Println("verified www.google.com")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A process that sees no system trust store (as quorum-etcd and the
// operator in their scratch images) still verifies a public server's
// chain. Without this package's import the child fails with "certificate
// signed by unknown authority".
func TestPublicChainVerifiesWithoutSystemRoots(t *testing.T) {
	empty := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1", "SSL_CERT_FILE="+empty+"/none.pem", "SSL_CERT_DIR="+empty)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the chain did not verify without system roots: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "verified www.google.com") {
		t.Fatalf("the child did not verify:\n%s", out)
	}
}
