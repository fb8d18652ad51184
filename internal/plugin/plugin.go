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
// never printed or written (see report.go and Redact).
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

// usage is printed by `kubectl quorum help` and on a usage error.
const usage = `kubectl quorum: manage etcd clusters run by the Quorum operator.

Usage:
  kubectl quorum [global flags] COMMAND [flags] [args]

Commands:
  status NAME                  one screen: members, sizes, alarms, certificates, backups, conditions, operation
  backup NAME                  create an EtcdBackup of cluster NAME and follow it to Succeeded or Failed
  restore NAME --backup B --yes  restore cluster NAME in place from EtcdBackup B and follow it
  defrag NAME [--request]      how NAME is defragmented; --request asks the operator for one round now
  move-leader NAME --to MEMBER move raft leadership to MEMBER (a member pod name)
  etcdctl NAME -- ARGS...      run etcdctl in a member pod with the cluster's root credentials
  report NAME [-o FILE]        write a support bundle (tar.gz): resources, events, logs, endpoint status; no Secret values
  pause NAME                   stop the operator from changing NAME (annotation etcd.quorum.dev/paused=true)
  resume NAME                  let the operator reconcile NAME again (removes the annotation)

Global flags:
  --kubeconfig PATH   kubeconfig file (default $KUBECONFIG or ~/.kube/config)
  --context NAME      kubeconfig context
  -n, --namespace NS  namespace of the cluster (default: the context's namespace)
`

// Env is what a command works with: clients, the namespace and the
// streams.
type Env struct {
	Client    client.Client
	Clientset kubernetes.Interface
	Config    *rest.Config
	Namespace string
	In        io.Reader
	Out       io.Writer
	Err       io.Writer
}

// errUsage marks an error that should be followed by the usage text.
var errUsage = errors.New("usage")

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
		fmt.Fprintf(errOut, "error: %v\n\n%s", err, usage)
		return 2
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		fmt.Fprint(out, usage)
		return 0
	}
	cmd, ok := commands[rest[0]]
	if !ok {
		fmt.Fprintf(errOut, "error: unknown command %q\n\n%s", rest[0], usage)
		return 2
	}
	if rest[0] != "etcdctl" && asksHelp(rest[1:]) {
		// Help needs no cluster: answer before reading the kubeconfig.
		fmt.Fprint(out, usage)
		return 0
	}
	env, err := connect(*kubeconfig, *kubeContext, *namespace)
	if err != nil {
		fmt.Fprintf(errOut, "error: %v\n", err)
		return 1
	}
	env.In, env.Out, env.Err = in, out, errOut
	if err := cmd(ctx, env, rest[1:]); err != nil {
		fmt.Fprintf(errOut, "error: %v\n", err)
		if errors.Is(err, errUsage) {
			fmt.Fprintf(errOut, "\n%s", usage)
			return 2
		}
		return 1
	}
	return 0
}

// asksHelp tells whether a command's arguments ask for its help (-h,
// --help); etcdctl's arguments are etcdctl's own and are not looked at.
func asksHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return true
		}
	}
	return false
}

type command func(ctx context.Context, env *Env, args []string) error

var commands = map[string]command{
	"status":      runStatus,
	"backup":      runBackup,
	"restore":     runRestore,
	"defrag":      runDefrag,
	"move-leader": runMoveLeader,
	"etcdctl":     runEtcdctl,
	"report":      runReport,
	"pause":       runPause,
	"resume":      runResume,
}

// connect builds the clients the way kubectl does: the loading rules of
// clientcmd (KUBECONFIG, ~/.kube/config) with the flags as overrides.
func connect(kubeconfig, kubeContext, namespace string) (*Env, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	if namespace == "" {
		if namespace, _, err = loader.Namespace(); err != nil {
			return nil, fmt.Errorf("reading the context's namespace: %w", err)
		}
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(etcdv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("building the client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the clientset: %w", err)
	}
	return &Env{Client: c, Clientset: cs, Config: cfg, Namespace: namespace}, nil
}

// parse parses a command's flags; it wants exactly nargs positional
// arguments (the cluster name first) unless nargs is negative.
func parse(fs *flag.FlagSet, args []string, nargs int) ([]string, error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", fs.Name(), err, errUsage)
	}
	if nargs >= 0 && fs.NArg() != nargs {
		return nil, fmt.Errorf("%s wants %d argument(s) (%s), got %d [%s]: %w", fs.Name(), nargs, "the cluster name", fs.NArg(), strings.Join(fs.Args(), " "), errUsage)
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
