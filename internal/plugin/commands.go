package plugin

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	flag "github.com/spf13/pflag"
)

// command is one `kubectl quorum` command: its name, the synopsis of its
// arguments, what it does in one line, and how it runs. run parses args
// with parse (or, for etcdctl, by hand), so that -h/--help and usage
// errors are answered before the kubeconfig is read.
type command struct {
	name    string
	args    string
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// commands in the order `kubectl quorum help` lists them.
var commands = []*command{
	{"status", "NAME", "one screen: members, sizes, alarms, certificates, backups, conditions, operation", runStatus},
	{"backup", "NAME [flags]", "create an EtcdBackup of cluster NAME and follow it to Succeeded or Failed", runBackup},
	{"restore", "NAME --backup B --yes [flags]", "restore cluster NAME in place from EtcdBackup B and follow it", runRestore},
	{"defrag", "NAME [--request]", "how NAME is defragmented; --request asks the operator for one round now", runDefrag},
	{"move-leader", "NAME --to MEMBER", "move raft leadership to MEMBER (a member pod name)", runMoveLeader},
	{"etcdctl", "NAME [--] ARGS...", "run etcdctl ARGS in a member pod with the cluster's root credentials", runEtcdctl},
	{"report", "NAME [-o FILE]", "write a support bundle (tar.gz): resources, events, logs, endpoint status; no Secret values", runReport},
	{"pause", "NAME", "stop the operator from changing NAME (annotation etcd.quorum.dev/paused=true)", runPause},
	{"resume", "NAME", "let the operator reconcile NAME again (removes the annotation)", runResume},
}

// lookup is the command named name, or nil.
func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// globalFlags is the help of the flags that go before the command.
const globalFlags = `Global flags (before the command):
  --kubeconfig PATH   kubeconfig file (default $KUBECONFIG or ~/.kube/config)
  --context NAME      kubeconfig context
  -n, --namespace NS  namespace of the cluster (default: the context's namespace)
`

// globalUsage is printed by `kubectl quorum help` and on an unknown
// command or global flag.
func globalUsage() string {
	var b strings.Builder
	b.WriteString("kubectl quorum: manage etcd clusters run by the Quorum operator.\n\nUsage:\n  kubectl quorum [global flags] COMMAND [flags] [args]\n\nCommands:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.summary)
	}
	_ = tw.Flush()
	b.WriteString("\n" + globalFlags)
	b.WriteString("\n`kubectl quorum COMMAND --help` (or `help COMMAND`) shows a command's flags.\n")
	return b.String()
}

// commandUsage is the help of c: its synopsis, what it does, and the
// flags of fs with their defaults (fs may be nil: no flags).
func commandUsage(c *command, fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n  kubectl quorum [global flags] %s %s\n\n%s.\n", c.name, c.args, strings.ToUpper(c.summary[:1])+c.summary[1:])
	if c.name == "etcdctl" {
		b.WriteString(etcdctlHelp)
	}
	if fs != nil && fs.HasFlags() {
		b.WriteString("\nFlags:\n" + fs.FlagUsages())
	}
	b.WriteString("\n" + globalFlags)
	return b.String()
}
