// Command quorum-etcd is the etcd server that runs in every etcd pod managed
// by the Quorum operator. It embeds etcd (go.etcd.io/etcd/server/v3/embed)
// and takes its configuration from the environment the operator renders;
// see package quorum.dev/etcd-operator/etcdserver/server.
//
// Usage:
//
//	quorum-etcd [serve]   run the member (default)
//	quorum-etcd backup    stream a snapshot to S3 or a directory
//	quorum-etcd restore   create a data dir from a backup
//	quorum-etcd prune     remove backups from a directory
//	quorum-etcd preflight load this member's configuration as serve would, and stop
//
// backup and restore are documented in package
// quorum.dev/etcd-operator/etcdserver/backup; every command lists its flags
// with "quorum-etcd <command> -h".
//
// Exit status: 0 after a clean stop on SIGTERM/SIGINT, 1 on any failure,
// 2 on a usage error.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.etcd.io/etcd/client/pkg/v3/logutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"quorum.dev/etcd-operator/etcdserver/backup"
	"quorum.dev/etcd-operator/etcdserver/server"
	"quorum.dev/etcd-operator/internal/contract"
	// Mozilla roots for public S3 endpoints: the image has no trust store.
	_ "quorum.dev/etcd-operator/internal/trustroots"
)

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usage = `usage: quorum-etcd [command]

commands:
  serve     run this pod's etcd member (default)
  backup    stream a snapshot of the cluster to S3 or a directory
  restore   create this member's data dir from a backup
  prune     remove backups from a directory (a mounted claim)
  preflight load the member's configuration as serve would (environment,
            options file, etcd's own validation), report, and exit 0 or 1
  help      show this help

"quorum-etcd <backup|restore|prune> -h" lists the command's flags.

Configuration comes from the environment (POD_NAME, POD_NAMESPACE,
QUORUM_PEER_SERVICE, QUORUM_INITIAL_CLUSTER, ...); see the server package.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve":
		if len(args) > 1 {
			fmt.Fprintf(os.Stderr, "serve takes no arguments\n\n%s", usage)
			return exitUsage
		}
		return serve()
	case "preflight":
		if len(args) > 1 {
			fmt.Fprintf(os.Stderr, "preflight takes no arguments\n\n%s", usage)
			return exitUsage
		}
		return preflight()
	case "backup", "restore", "prune":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		switch cmd {
		case "backup":
			return backup.BackupMain(ctx, args[1:], backup.OSIO())
		case "restore":
			return backup.RestoreMain(ctx, args[1:], backup.OSIO())
		}
		return backup.PruneMain(ctx, args[1:], backup.OSIO())
	case "help", "-h", "-help", "--help":
		fmt.Fprint(os.Stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

func serve() int {
	lg, err := logutil.CreateDefaultZapLogger(zap.InfoLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating logger: %v\n", err)
		return exitFailure
	}
	// Errors here are explained by their messages; no stack traces.
	lg = lg.Named("quorum-etcd").WithOptions(zap.AddStacktrace(zapcore.DPanicLevel))
	defer func() { _ = lg.Sync() }()

	settings, err := server.FromEnv(os.LookupEnv)
	if err != nil {
		lg.Error("bad configuration", zap.Error(err))
		terminationMessage("bad configuration: " + err.Error())
		return exitFailure
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	if err := server.Run(ctx, lg, settings); err != nil {
		lg.Error("etcd member failed", zap.Error(err))
		terminationMessage("serve failed: " + err.Error())
		return exitFailure
	}
	lg.Info("exiting after a clean stop")
	return exitOK
}

// preflight checks the configuration a member would start with and leaves
// the outcome in the termination message: a contract.PreflightReport, or
// contract.PreflightRefusedPrefix and the refusal.
func preflight() int {
	v, err := server.Preflight(os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, contract.PreflightRefusedPrefix+err.Error())
		terminationMessage(contract.PreflightRefusedPrefix + err.Error())
		return exitFailure
	}
	b, err := json.Marshal(contract.PreflightReport{Accepted: true, EtcdVersion: v})
	if err != nil {
		fmt.Fprintf(os.Stderr, "encoding the report: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(os.Stdout, string(b))
	terminationMessage(string(b))
	return exitOK
}

// terminationMessage leaves the reason of a failure where Kubernetes shows
// it in the pod status (and the operator reads it): the file named by
// QUORUM_TERMINATION_LOG, else /dev/termination-log, if it exists.
func terminationMessage(msg string) {
	_ = contract.WriteTerminationMessage(contract.TerminationLogPath(os.LookupEnv), msg)
}
