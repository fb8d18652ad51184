package plugin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// TestRedactorSplits writes output holding the password cut at every
// point, and in one-byte writes: no write lets the password through.
func TestRedactorSplits(t *testing.T) {
	const pw = `pa"ss:word`
	text := "ETCDCTL_USER=root:" + pw + "\nquoted \"pa\\\"ss:word\" and pa pass " + pw + pw + " end p"
	want := "ETCDCTL_USER=root:***\nquoted \"***\" and pa pass ****** end p"
	for cut := 0; cut <= len(text); cut++ {
		var out bytes.Buffer
		r := NewRedactor(&out, pw)
		for _, part := range []string{text[:cut], text[cut:]} {
			if n, err := r.Write([]byte(part)); n != len(part) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("cut at %d: %q, want %q", cut, out.String(), want)
		}
	}
	var out bytes.Buffer
	r := NewRedactor(&out, pw)
	for i := range len(text) {
		_, _ = r.Write([]byte{text[i]})
		if strings.Contains(out.String(), pw) {
			t.Fatalf("the password got through after %d one-byte writes: %q", i+1, out.String())
		}
	}
	_ = r.Flush()
	if out.String() != want {
		t.Errorf("one-byte writes: %q, want %q", out.String(), want)
	}
	out.Reset()
	if _, err := io.WriteString(NewRedactor(&out, ""), text); err != nil || out.String() != text {
		t.Errorf("no password: %q, %v", out.String(), err)
	}
}

// etcdctlBinary is $ETCD_BIN/etcdctl, else in the directory
// hack/versions.sh names ETCD_BIN; missing, the test fails with the
// command that builds it (it never skips).
func etcdctlBinary(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("ETCD_BIN")
	if dir == "" {
		root, err := filepath.Abs("../..")
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("bash", "-c", `source "$1/hack/versions.sh" && printf %s "$ETCD_BIN"`, "bash", root).Output()
		if err != nil {
			t.Fatalf("reading ETCD_BIN from hack/versions.sh: %v", err)
		}
		dir = string(out)
	}
	p := filepath.Join(dir, name)
	if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s not found at %s: run hack/build-k8s.sh etcd (or set ETCD_BIN)", name, p)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAuthEtcd starts a one-member etcd on 127.0.0.1 with auth on and
// root's password pw; it returns the client URL and the member's ID.
// The process is stopped by PID when the test ends.
func startAuthEtcd(t *testing.T, etcdctl, pw string) (string, uint64) {
	t.Helper()
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(etcdctlBinary(t, "etcd"), "--name=db-0", "--data-dir="+filepath.Join(dir, "data"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL, "--initial-cluster=db-0="+peerURL)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ctl := func(args ...string) string {
		out, err := exec.Command(etcdctl, append([]string{"--endpoints=" + clientURL}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("etcdctl %s: %v\n%s", args[0], err, out)
		}
		return string(out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command(etcdctl, "--endpoints="+clientURL, "endpoint", "health").Run() != nil {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("etcd did not become healthy:\n%s", log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ctl("user", "add", "root", "--new-user-password="+pw)
	ctl("role", "add", "root")
	ctl("user", "grant-role", "root", "root")
	ctl("auth", "enable")
	fields := strings.Split(ctl("--user=root:"+pw, "member", "list", "-w", "simple"), ",")
	id, err := strconv.ParseUint(strings.TrimSpace(fields[0]), 16, 64)
	if err != nil {
		t.Fatalf("member list: %v", err)
	}
	return clientURL, id
}

// localEtcdEnv is an Env whose fake API server holds cluster db (TLS
// off, auth on, one ready member pod db-0, the root password Secret) and
// whose Exec runs the real etcdctl here, with --endpoints pointed at
// clientURL (what the pod network's DNS does in a cluster).
func localEtcdEnv(t *testing.T, etcdctl, clientURL, pw, memberID string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod"},
		Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1), TLS: etcdv1.TLSSpec{Enabled: ptr.To(false)}}}
	// Status as a reconcile long ago saw it: db-0 a follower.
	c.Status = etcdv1.EtcdClusterStatus{AuthEnabled: true, Members: []etcdv1.MemberStatus{{Name: "db-0", ID: memberID, Role: etcdv1.RoleFollower}}}
	pod := memberPod("db-0", true, true, "")
	pod.Namespace, pod.Labels = c.Namespace, c.SelectorLabels()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: c.RootPasswordSecretName(), Namespace: c.Namespace}, Data: map[string][]byte{"password": []byte(pw)}}
	scheme := runtime.NewScheme()
	if err := etcdv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	env := &Env{Client: fake.NewClientBuilder().WithScheme(scheme).WithObjects(c, &pod, secret).Build(), Namespace: c.Namespace, Out: &out, Err: &errOut,
		Exec: func(ctx context.Context, ns, podName string, cmd []string, stdout, stderr io.Writer) error {
			if ns != "prod" || podName != "db-0" || cmd[0] != "etcdctl" {
				return fmt.Errorf("exec %q in %s/%s, want etcdctl in prod/db-0", cmd, ns, podName)
			}
			args := append([]string(nil), cmd[1:]...)
			for i, a := range args {
				if strings.HasPrefix(a, "--endpoints=") {
					args[i] = "--endpoints=" + clientURL
				}
			}
			run := exec.CommandContext(ctx, etcdctl, args...)
			run.Stdout, run.Stderr = stdout, stderr
			return run.Run()
		}}
	return env, &out, &errOut
}

// TestEtcdctlNeverPrintsThePassword runs the real etcdctl against a real
// etcd with auth on, the way `kubectl quorum etcdctl` does, with --debug
// (which echoes ETCDCTL_USER=root:PASSWORD) and with failing commands.
func TestEtcdctlNeverPrintsThePassword(t *testing.T) {
	etcdctl := etcdctlBinary(t, "etcdctl")
	pw := `Pw"` + hex.EncodeToString(randomBytes(t))
	clientURL, id := startAuthEtcd(t, etcdctl, pw)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr bool
		want    []string
	}{
		{"debug", []string{"db", "--", "--debug", "put", "/x", "1"}, false, []string{"ETCDCTL_USER=root:***", "ETCDCTL_DEBUG=true", "OK"}},
		{"debug get", []string{"db", "--debug", "get", "/x"}, false, []string{"ETCDCTL_USER=root:***", "/x\n1"}},
		{"debug and an error", []string{"db", "--", "--debug", "member", "remove", "abc"}, true, []string{"ETCDCTL_USER=root:***", "Error:"}},
		{"the password as a key", []string{"db", "--", "--debug", "get", pw, "--write-out=json"}, false, []string{"ETCDCTL_USER=root:***"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, out, errOut := localEtcdEnv(t, etcdctl, clientURL, pw, strconv.FormatUint(id, 16))
			err := runEtcdctl(ctx, env, tc.args)
			all := out.String() + errOut.String()
			if err != nil {
				all += err.Error()
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want an error: %v\n%s", err, tc.wantErr, all)
			}
			for _, secret := range []string{pw, strconv.Quote(pw)[1 : len(pw)+2]} {
				if strings.Contains(all, secret) {
					t.Errorf("the output holds the password %q:\n%s", secret, all)
				}
			}
			for _, want := range tc.want {
				if !strings.Contains(all, want) {
					t.Errorf("the output lacks %q:\n%s", want, all)
				}
			}
		})
	}

	t.Run("move-leader to the leader does nothing", func(t *testing.T) {
		env, out, errOut := localEtcdEnv(t, etcdctl, clientURL, pw, strconv.FormatUint(id, 16))
		if err := runMoveLeader(ctx, env, []string{"db", "--to", "db-0"}); err != nil {
			t.Fatalf("%v\n%s%s", err, out, errOut)
		}
		if want := fmt.Sprintf("db-0 (ID %x) already leads db: nothing to do\n", id); out.String() != want || errOut.Len() > 0 {
			t.Errorf("stdout %q, stderr %q; want %q and nothing", out, errOut, want)
		}
	})
	t.Run("move-leader to another member runs etcdctl move-leader", func(t *testing.T) {
		// Status names an ID that is not the leader's: the transfer is
		// attempted, and etcd refuses an ID that is not a member.
		env, out, errOut := localEtcdEnv(t, etcdctl, clientURL, pw, strconv.FormatUint(id+1, 16))
		err := runMoveLeader(ctx, env, []string{"db", "--to", "db-0"})
		if err == nil || strings.Contains(out.String(), "already leads") || !strings.Contains(errOut.String(), "bad leader transferee") {
			t.Errorf("err %v, stdout %q, stderr %q; want etcdctl move-leader to fail", err, out, errOut)
		}
	})
}

func randomBytes(t *testing.T) []byte {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
