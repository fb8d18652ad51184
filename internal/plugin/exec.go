package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	flag "github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/contract"
)

// etcdContainer is the member pod's etcd container (controllers/render).
const etcdContainer = "etcd"

// EtcdctlTarget is where etcdctl runs and what it connects to.
type EtcdctlTarget struct {
	// Pod is the member pod etcdctl runs in.
	Pod string
	// Endpoints are the client URLs of every member, by ordinal.
	Endpoints []string
	// Password is the root password, needed only when auth is on and TLS
	// is off (with TLS, the pod's root client certificate authenticates).
	Password string
}

// EtcdctlArgs is the command line run in the member pod: etcdctl with
// --endpoints of every member unless args name their own, and
// --user=root:PASSWORD when a password is needed. The client certificate
// comes from the pod's ETCDCTL_CACERT/CERT/KEY (controllers/render), so no
// key material is passed. The result holds the password: print it only
// through Redact.
func EtcdctlArgs(t EtcdctlTarget, args []string) []string {
	cmd := []string{"etcdctl"}
	if !hasFlag(args, "endpoints") && len(t.Endpoints) > 0 {
		cmd = append(cmd, "--endpoints="+strings.Join(t.Endpoints, ","))
	}
	if t.Password != "" && !hasFlag(args, "user") {
		cmd = append(cmd, "--user=root:"+t.Password)
	}
	return append(cmd, args...)
}

// Redact replaces the values of etcdctl's credential flags (--user,
// --password, given as --flag=value or --flag value) with "***".
func Redact(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i < len(out); i++ {
		for _, f := range []string{"--user", "--password"} {
			if strings.HasPrefix(out[i], f+"=") {
				out[i] = f + "=***"
			} else if out[i] == f && i+1 < len(out) {
				out[i+1] = "***"
				i++
			}
		}
	}
	return out
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			return true
		}
	}
	return false
}

// MemberEndpoints are the client URLs of the members named in status, by
// ordinal, on the cluster's DNS domain.
func MemberEndpoints(c *etcdv1.EtcdCluster, domain string) []string {
	var ords []int
	for _, m := range c.Status.Members {
		if o, ok := c.MemberOrdinal(m.Name); ok {
			ords = append(ords, o)
		}
	}
	sort.Ints(ords)
	eps := make([]string, 0, len(ords))
	for _, o := range ords {
		eps = append(eps, fmt.Sprintf("%s://%s:%d", c.Scheme(), c.MemberHost(o, domain), etcdv1.ClientPort))
	}
	return eps
}

// PickPod chooses the member pod to exec in: a running pod whose etcd
// container is ready, the lowest ordinal first; "" when none is.
func PickPod(c *etcdv1.EtcdCluster, pods []corev1.Pod) (pod string, domain string) {
	sort.Slice(pods, func(i, j int) bool { return memberLess(c, pods[i].Name, pods[j].Name) })
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name == etcdContainer && cs.Ready {
				return p.Name, podDomain(&p)
			}
		}
	}
	return "", ""
}

// podDomain is the cluster DNS domain the pod was rendered with.
func podDomain(p *corev1.Pod) string {
	for _, ctr := range p.Spec.Containers {
		for _, e := range ctr.Env {
			if e.Name == contract.EnvClusterDomain && e.Value != "" {
				return e.Value
			}
		}
	}
	return contract.DefaultClusterDomain
}

// etcdctlTarget finds the pod to exec in and the credentials to pass.
func etcdctlTarget(ctx context.Context, env *Env, c *etcdv1.EtcdCluster) (EtcdctlTarget, error) {
	pods := &corev1.PodList{}
	if err := env.Client.List(ctx, pods, client.InNamespace(c.Namespace), client.MatchingLabels(c.SelectorLabels())); err != nil {
		return EtcdctlTarget{}, fmt.Errorf("listing member pods: %w", err)
	}
	pod, domain := PickPod(c, pods.Items)
	if pod == "" {
		return EtcdctlTarget{}, fmt.Errorf("no member pod of %s is running and ready to run etcdctl in", c.Name)
	}
	t := EtcdctlTarget{Pod: pod, Endpoints: MemberEndpoints(c, domain)}
	if c.Status.AuthEnabled && !c.ClientTLS() {
		s := &corev1.Secret{}
		name := c.Status.RootPasswordSecretName
		if name == "" {
			name = c.RootPasswordSecretName()
		}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s); err != nil {
			return t, fmt.Errorf("reading the root password Secret %s: %w", name, err)
		}
		t.Password = string(s.Data["password"])
	}
	return t, nil
}

// execPod runs cmd in the etcd container of pod, streaming its output.
func execPod(ctx context.Context, env *Env, ns, pod string, cmd []string, stdout, stderr io.Writer) error {
	req := env.Clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: etcdContainer, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	spdy, err := remotecommand.NewSPDYExecutor(env.Config, http.MethodPost, req.URL())
	if err != nil {
		return fmt.Errorf("exec in %s: %w", pod, err)
	}
	ws, err := remotecommand.NewWebSocketExecutor(env.Config, http.MethodGet, req.URL().String())
	if err != nil {
		return fmt.Errorf("exec in %s: %w", pod, err)
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, httpstream.IsUpgradeFailure)
	if err != nil {
		return fmt.Errorf("exec in %s: %w", pod, err)
	}
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: stdout, Stderr: stderr}); err != nil {
		return fmt.Errorf("running %s in %s: %w", strings.Join(Redact(cmd), " "), pod, err)
	}
	return nil
}

// runEtcdctlIn execs etcdctl with args in a member of c. When a root
// password is passed, every byte etcdctl writes goes through a Redactor:
// etcdctl echoes its flags with --debug (ETCDCTL_USER=root:PASSWORD), and
// the password is never printed (README, "The kubectl quorum plugin").
func runEtcdctlIn(ctx context.Context, env *Env, c *etcdv1.EtcdCluster, args []string, stdout, stderr io.Writer) error {
	t, err := etcdctlTarget(ctx, env, c)
	if err != nil {
		return err
	}
	exec := env.Exec
	if exec == nil {
		exec = func(ctx context.Context, ns, pod string, cmd []string, stdout, stderr io.Writer) error {
			return execPod(ctx, env, ns, pod, cmd, stdout, stderr)
		}
	}
	if t.Password == "" {
		return exec(ctx, c.Namespace, t.Pod, EtcdctlArgs(t, args), stdout, stderr)
	}
	out, errOut := NewRedactor(stdout, t.Password), NewRedactor(stderr, t.Password)
	err = exec(ctx, c.Namespace, t.Pod, EtcdctlArgs(t, args), out, errOut)
	if ferr := errors.Join(out.Flush(), errOut.Flush()); err == nil {
		err = ferr
	}
	return err
}

// etcdctlHelp is the part of `etcdctl --help` beyond the summary.
const etcdctlHelp = `
ARGS are etcdctl's own: everything after NAME (after "--" if given) is
passed to etcdctl, so "etcdctl NAME -- --help" shows etcdctl's help.
--endpoints is set to every member unless ARGS give it; the client
certificate is the pod's root certificate. With TLS off and auth on, the
root password is passed as --user and replaced by *** in everything
etcdctl prints (also with --debug, which echoes its flags).
`

// runEtcdctl: `etcdctl NAME [--] ARGS...`. Its arguments are etcdctl's
// own, so only -h/--help before NAME is the plugin's help.
func runEtcdctl(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("etcdctl", flag.ContinueOnError)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		return &helpRequest{fs: fs}
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageErr(fs, "etcdctl wants the cluster name first: kubectl quorum etcdctl NAME -- ARGS")
	}
	name, rest := args[0], args[1:]
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return usageErr(fs, "etcdctl wants etcdctl arguments after the cluster name (for example: endpoint status)")
	}
	if err := env.ready(); err != nil {
		return err
	}
	c, err := getCluster(ctx, env, name)
	if err != nil {
		return err
	}
	return runEtcdctlIn(ctx, env, c, rest, env.Out, env.Err)
}
