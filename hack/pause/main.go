// Command pause blocks until SIGTERM or SIGINT and then exits 0. Built static
// and packed by hack/imagebuild, it is the local cluster's pod sandbox image
// (registry.k8s.io/pause:3.10.1), since no registry can be reached.
// As PID 1 of a sandbox it also reaps zombies, like the upstream pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
