// Package s3test starts a real MinIO server for a test: the pinned build
// made by `hack/build-k8s.sh minio`, on a free 127.0.0.1 port, with a state
// dir under the test's temp dir and random root credentials. The server is
// stopped by PID when the test ends (and killed with the test binary, via
// the parent-death signal).
//
// The binary is $MINIO_BIN (the minio binary itself or the directory
// holding it, as hack/versions.sh sets it), else the path hack/versions.sh
// gives. A missing binary fails the test with the command that builds it;
// tests never skip for it.
//
//	srv := s3test.Start(t)                // or StartWith(t, Options{TLS...})
//	bucket := srv.NewBucket(t)            // unique, created empty
//	env: AWS_ACCESS_KEY_ID=srv.AccessKey, AWS_SECRET_ACCESS_KEY=srv.SecretKey,
//	     endpoint srv.Endpoint (http unless srv.Secure); or srv.Client(t)
//
// It also starts AWS's EC2 instance metadata emulator for instance-role
// tests (StartIMDS, imds.go), serving credentials MinIO's STS issued
// (Server.AssumeRole).
package s3test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// StartTimeout bounds the wait for /minio/health/live.
const StartTimeout = 60 * time.Second

// Options of StartWith.
type Options struct {
	// CertFile and KeyFile (PEM), when set, make MinIO serve https with
	// that certificate; CAFile is the CA clients trust for it.
	CertFile, KeyFile, CAFile string
	// Host is the address to listen on, 127.0.0.1 by default. End-to-end
	// tests use the host side of the local cluster's veth, which pods reach.
	Host string
	// Env is added to MinIO's environment (NAME=value), e.g. an OpenID
	// provider for STS AssumeRoleWithWebIdentity.
	Env []string
}

// Server is a running MinIO.
type Server struct {
	// Endpoint is <Options.Host>:<port>.
	Endpoint string
	// Secure is true when it serves https (Options.CertFile).
	Secure bool
	// CAFile is Options.CAFile.
	CAFile string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string
	// Dir is the state dir (data under Dir/data, log in Dir/minio.log).
	Dir string

	proc    *process
	buckets atomic.Int64
}

// Binary returns the path of the minio binary, or an error telling how to
// build it.
func Binary() (string, error) {
	return binary("MINIO_BIN", "minio", "minio")
}

// Start starts MinIO (plain http) for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith starts MinIO with options for t and stops it when t ends.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	return startRetrying(t, "MinIO", func() (*Server, error) { return start(t, bin, o) })
}

func start(t testing.TB, bin string, o Options) (*Server, error) {
	dir, err := os.MkdirTemp("", "minio-test-")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	port, console := FreePort(), FreePort()
	host := o.Host
	if host == "" {
		host = "127.0.0.1"
	}
	s := &Server{
		Endpoint:  net.JoinHostPort(host, strconv.Itoa(port)),
		AccessKey: "test-" + randHex(6),
		SecretKey: randHex(20),
		Dir:       dir,
		Secure:    o.CertFile != "",
		CAFile:    o.CAFile,
	}
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return nil, err
	}
	if s.Secure {
		for src, dst := range map[string]string{o.CertFile: "public.crt", o.KeyFile: "private.key"} {
			b, err := os.ReadFile(src)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(certs, dst), b, 0o600); err != nil {
				return nil, err
			}
		}
	}
	env := append([]string{
		"MINIO_ROOT_USER=" + s.AccessKey, "MINIO_ROOT_PASSWORD=" + s.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CALLHOME_ENABLE=off",
		"HOME=" + dir}, o.Env...)
	s.proc, err = startProcess(t, bin, []string{"server", "--quiet",
		"--address", s.Endpoint,
		"--console-address", net.JoinHostPort(host, strconv.Itoa(console)),
		"--certs-dir", certs,
		filepath.Join(dir, "data")}, env, filepath.Join(dir, "minio.log"))
	if err != nil {
		return nil, err
	}

	if err := s.waitLive(); err != nil {
		s.Stop()
		log, _ := os.ReadFile(filepath.Join(dir, "minio.log"))
		return nil, fmt.Errorf("%w; log: %s", err, tail(string(log), 2000))
	}
	return s, nil
}

func (s *Server) waitLive() error {
	tr, err := s.transport()
	if err != nil {
		return err
	}
	c := http.Client{Timeout: 2 * time.Second, Transport: tr}
	scheme := "http://"
	if s.Secure {
		scheme = "https://"
	}
	return s.proc.waitOK("MinIO on "+s.Endpoint, func() (*http.Response, error) {
		return c.Get(scheme + s.Endpoint + "/minio/health/live")
	})
}

// Stop terminates MinIO by PID (SIGTERM, then SIGKILL after 10 s) and waits
// for it. Safe to call more than once.
func (s *Server) Stop() {
	if s.proc != nil {
		s.proc.stop()
	}
}

// Client is a minio-go client with the root credentials.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	tr, err := s.transport()
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Secure: s.Secure, Transport: tr,
	})
	if err != nil {
		t.Fatalf("MinIO client: %v", err)
	}
	return c
}

// NewBucket creates an empty bucket with a name unique to this server.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("bucket-%d", s.buckets.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(t).MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	return name
}

// transport trusts CAFile for https.
func (s *Server) transport() (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", s.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return tr, nil
}

var (
	portsMu sync.Mutex
	ports   = map[int]bool{}
)

// FreePort returns a port that was free on 127.0.0.1 a moment ago and that
// no other caller in this process got. It picks below the kernel's
// ephemeral range (32768+), so outgoing connections cannot take it first.
func FreePort() int {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 10000 {
		var b [2]byte
		_, _ = rand.Read(b[:])
		p := 20000 + (int(b[0])<<8|int(b[1]))%12000
		if ports[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		_ = l.Close()
		ports[p] = true
		return p
	}
	panic("no free port on 127.0.0.1")
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
