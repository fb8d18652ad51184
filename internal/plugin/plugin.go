// Package plugin is the logic of `kubectl quorum`, the operator's kubectl
// plugin: status, backup, restore, defrag, move-leader, etcdctl, report,
// pause and resume.
//
// Every command reads the project's custom resources through a
// controller-runtime client built from the usual kubectl flags
// (--kubeconfig, --context, -n/--namespace, with KUBECONFIG and the
// current context's namespace as defaults). Commands that talk to etcd
// exec etcdctl in a member pod (the server image ships it, hack/images.sh)
// with the root client certificate the pod mounts: etcd's client port is
// not reachable from outside the pod network in general. Secret values are
// never printed or written (see report.go, Redact and Redactor).
package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	flag "github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Env is what a command works with: clients, the namespace and the
// streams. Main fills the clients only once the command line has parsed
// (see parse), so help and usage errors need no kubeconfig.
type Env struct {
	Client    client.Client
	Clientset kubernetes.Interface
	Config    *rest.Config
	Namespace string
	In        io.Reader
	Out       io.Writer
	Err       io.Writer
	// Exec runs cmd in the etcd container of pod in namespace ns, with
	// its stdout and stderr streamed to the writers; nil means exec
	// through the API server (execPod). Tests run etcdctl locally with it.
	Exec func(ctx context.Context, ns, pod string, cmd []string, stdout, stderr io.Writer) error

	// connect fills the clients; nil when they are set already (tests).
	connect func(*Env) error
}

// ready connects env to the cluster if it is not yet.
func (env *Env) ready() error {
	if env.connect == nil {
		return nil
	}
	connect := env.connect
	env.connect = nil
	return connect(env)
}

// usageError is a bad command line: Main prints it, then the usage of
// the command whose flags are fs (exit code 2).
type usageError struct {
	fs  *flag.FlagSet
	msg string
}

func (e *usageError) Error() string { return e.msg }

// usageErr is a usageError of the command of fs.
func usageErr(fs *flag.FlagSet, format string, args ...any) error {
	return &usageError{fs: fs, msg: fmt.Sprintf(format, args...)}
}

// helpRequest is -h or --help after a command: Main prints the
// command's usage to stdout (exit code 0).
type helpRequest struct{ fs *flag.FlagSet }

func (h *helpRequest) Error() string { return "help requested for " + h.fs.Name() }

// Main runs the plugin with args (without the program name) and returns
// the exit code: 0 success, 1 failure, 2 bad usage.
func Main(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	global := flag.NewFlagSet("kubectl-quorum", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.SetInterspersed(false)
	kubeconfig := global.String("kubeconfig", "", "kubeconfig file")
	kubeContext := global.String("context", "", "kubeconfig context")
	namespace := global.StringP("namespace", "n", "", "namespace")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(out, globalUsage())
			return 0
		}
		fmt.Fprintf(errOut, "error: %v\n\n%s", err, globalUsage())
		return 2
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" {
		if len(rest) == 2 && lookup(rest[1]) != nil {
			// `help COMMAND` is `COMMAND --help`.
			rest = []string{rest[1], "--help"}
		} else {
			fmt.Fprint(out, globalUsage())
			return 0
		}
	}
	cmd := lookup(rest[0])
	if cmd == nil {
		fmt.Fprintf(errOut, "error: unknown command %q\n\n%s", rest[0], globalUsage())
		return 2
	}
	env := &Env{In: in, Out: out, Err: errOut, connect: func(env *Env) error {
		return env.connectTo(*kubeconfig, *kubeContext, *namespace)
	}}
	err := cmd.run(ctx, env, rest[1:])
	var help *helpRequest
	var bad *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		fmt.Fprint(out, commandUsage(cmd, help.fs))
		return 0
	case errors.As(err, &bad):
		fmt.Fprintf(errOut, "error: %v\n\n%s", err, commandUsage(cmd, bad.fs))
		return 2
	}
	fmt.Fprintf(errOut, "error: %v\n", err)
	return 1
}

// connectTo sets env's clients and namespace the way kubectl does: the
// loading rules of clientcmd (KUBECONFIG, ~/.kube/config) with the flags
// as overrides.
func (env *Env) connectTo(kubeconfig, kubeContext, namespace string) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	if namespace == "" {
		if namespace, _, err = loader.Namespace(); err != nil {
			return fmt.Errorf("reading the context's namespace: %w", err)
		}
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(etcdv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("building the client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building the clientset: %w", err)
	}
	env.Client, env.Clientset, env.Config, env.Namespace = c, cs, cfg, namespace
	return nil
}

// parse parses a command's flags and, when they parse, connects env to
// the cluster. It wants exactly nargs positional arguments (the cluster
// name first) unless nargs is negative, and a value of each string flag
// named in required. -h or --help returns a helpRequest and a bad command
// line a usageError, both before any kubeconfig is read.
func parse(env *Env, fs *flag.FlagSet, args []string, nargs int, required ...string) ([]string, error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, &helpRequest{fs: fs}
		}
		return nil, usageErr(fs, "%s: %v", fs.Name(), err)
	}
	if nargs >= 0 && fs.NArg() != nargs {
		return nil, usageErr(fs, "%s wants %d argument(s) (%s), got %d [%s]", fs.Name(), nargs, "the cluster name", fs.NArg(), strings.Join(fs.Args(), " "))
	}
	for _, name := range required {
		// A name that is not a flag of fs is a bug: it panics in tests.
		if f := fs.Lookup(name); f.Value.String() == "" {
			return nil, usageErr(fs, "%s wants --%s (%s)", fs.Name(), name, f.Usage)
		}
	}
	if err := env.ready(); err != nil {
		return nil, err
	}
	return fs.Args(), nil
}

// getCluster reads the EtcdCluster name in the Env's namespace.
func getCluster(ctx context.Context, env *Env, name string) (*etcdv1.EtcdCluster, error) {
	c := &etcdv1.EtcdCluster{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: env.Namespace, Name: name}, c); err != nil {
		return nil, fmt.Errorf("reading EtcdCluster %s/%s: %w", env.Namespace, name, err)
	}
	return c, nil
}
