package s3test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// binary returns the path of a program the tests run: $envVar (the
// program itself or the directory holding it), else the directory
// hack/versions.sh names in the same variable. A missing program is an
// error naming the hack/build-k8s.sh component that builds it.
func binary(envVar, name, component string) (string, error) {
	p := os.Getenv(envVar)
	if p == "" {
		var err error
		if p, err = versionsVar(envVar); err != nil {
			return "", err
		}
	}
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		p = filepath.Join(p, name)
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s binary not found at %s: run hack/build-k8s.sh %s (or set %s)", name, p, component, envVar)
	}
	return p, nil
}

// versionsVar asks hack/versions.sh for the value of a variable.
func versionsVar(name string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	out, err := exec.Command("bash", "-c", `source "$1/hack/versions.sh" && printf %s "${!2}"`, "bash", root, name).Output()
	if err != nil || len(out) == 0 {
		return "", fmt.Errorf("reading %s from hack/versions.sh: %v", name, err)
	}
	return string(out), nil
}

// process is a program started for a test, with its output in a log
// file; it is stopped by PID when the test ends, and killed with the test
// binary (parent-death signal).
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startProcess starts bin with args and env added to the test's
// environment, stdout and stderr to logPath.
func startProcess(t testing.TB, bin string, args, env []string, logPath string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after 10 s, and waits for the process.
// Safe to call more than once.
func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// repoRoot is the directory above this file holding hack/versions.sh.
func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the repository")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "versions.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("hack/versions.sh not found above " + filepath.Dir(file))
		}
		dir = parent
	}
}

// waitOK sends requests until one is answered 200 OK, and fails when the
// process exits first or StartTimeout passes; what names the server in
// the errors.
func (p *process) waitOK(what string, send func() (*http.Response, error)) error {
	deadline := time.Now().Add(StartTimeout)
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited during start-up", what)
		}
		resp, err := send()
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %s", what, StartTimeout)
}

// startRetrying runs start up to three times, as a free port found before
// the server binds it may be taken meanwhile, and fails t with what and
// the last error when every try failed.
func startRetrying[T any](t testing.TB, what string, start func() (T, error)) T {
	t.Helper()
	var last error
	for range 3 {
		v, err := start()
		if err == nil {
			return v
		}
		last = err
	}
	t.Fatalf("starting %s: %v", what, last)
	var zero T
	return zero
}
