// Command kubectl-quorum is the kubectl plugin of the Quorum etcd operator:
// installed on PATH, it runs as `kubectl quorum ...`. See README "The
// kubectl quorum plugin" and internal/plugin.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"quorum.dev/etcd-operator/internal/plugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := plugin.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
