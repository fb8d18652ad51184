// Command bench runs the registered benchmarks and writes results.json and
// results.md; see package bench.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"quorum.dev/etcd-operator/bench"
)

func main() {
	var (
		runs                               int
		out, only, sizes, child, localPath string
		clusterVolumes, merge              bool
		timeout                            time.Duration
		env                                = bench.Env{Log: os.Stderr}
	)
	flag.IntVar(&runs, "runs", 3, "Runs of each bench.")
	flag.StringVar(&out, "out", "bench", "Directory of results.json and results.md.")
	flag.StringVar(&only, "only", "", "Comma-separated bench names to run; empty runs all.")
	flag.DurationVar(&env.Window, "window", 30*time.Second, "Measurement window of steady-state metrics, per cluster count.")
	flag.StringVar(&sizes, "sizes", "1,10,50", "EtcdCluster counts of the operator bench.")
	flag.DurationVar(&env.EtcdDuration, "etcd-duration", 5*time.Second, "Duration of each etcd put load.")
	flag.StringVar(&env.DiskDir, "disk-dir", "", "Directory for disk and etcd data (default: a temp dir under /var/tmp).")
	flag.BoolVar(&clusterVolumes, "cluster-volumes", false, "Use the local cluster's volume dir, $QUORUM_STATE/volumes, as disk dir.")
	flag.IntVar(&env.DiskMiB, "disk-mib", 256, "File size of the bandwidth test, in MiB.")
	flag.StringVar(&env.Kubeconfig, "bench-kubeconfig", os.Getenv("BENCH_KUBECONFIG"), "Kubeconfig of the real cluster; empty skips the benches that need one.")
	flag.IntVar(&env.BackupMiB, "backup-mib", 256, "Data put in the backup-restore bench's cluster, in MiB (quota and volumes grow to fit).")
	flag.IntVar(&env.DefragMiB, "defrag-mib", 256, "Database size of the defrag bench's cluster, in MiB, half of it freeable.")
	flag.BoolVar(&merge, "merge", false, "Keep the results of the benches not run this time from the existing results.json.")
	flag.StringVar(&env.CRDDir, "crds", "config/crd/bases", "CRD directory for envtest.")
	flag.DurationVar(&timeout, "timeout", 15*time.Minute, "Time limit of one run of one bench.")
	flag.StringVar(&child, "child", "", "Internal: run this bench once and print its values as JSON.")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	if env.Sizes, err = parseSizes(sizes); err != nil {
		fail(err)
	}
	if child != "" {
		if err := bench.Child(ctx, child, env, os.Stdout); err != nil {
			fail(err)
		}
		return
	}

	if env.DiskDir == "" && clusterVolumes {
		state := cmp.Or(os.Getenv("QUORUM_STATE"), "/var/tmp/quorum-local")
		env.DiskDir = filepath.Join(state, "volumes")
	}
	if env.DiskDir == "" {
		if localPath, err = os.MkdirTemp("/var/tmp", "quorum-bench-"); err != nil {
			fail(err)
		}
		defer os.RemoveAll(localPath)
		env.DiskDir = localPath
	}
	if _, err := os.Stat(env.DiskDir); err != nil {
		fail(err)
	}
	o := bench.Options{Env: env, Runs: runs, Timeout: timeout, Args: append(os.Args[1:], "-disk-dir", env.DiskDir)}
	if only != "" {
		o.Only = strings.Split(only, ",")
	}
	res := &bench.Results{
		Date: time.Now(),
		Runs: runs,
		Settings: map[string]string{
			"Window":        env.Window.String(),
			"Cluster sizes": sizes,
			"etcd load":     env.EtcdDuration.String() + " per load",
			"Disk file":     strconv.Itoa(env.DiskMiB) + " MiB",
			"Kubeconfig":    cmp.Or(env.Kubeconfig, "none"),
			"Backup data":   strconv.Itoa(env.BackupMiB) + " MiB",
			"Defrag data":   strconv.Itoa(env.DefragMiB) + " MiB",
		},
		Machine: bench.ThisMachine(env.DiskDir),
	}
	if localPath != "" {
		res.Machine.DiskDir = "temp dir under /var/tmp"
	}
	var old *bench.Results
	if merge {
		if old, err = bench.ReadResults(filepath.Join(out, "results.json")); err != nil {
			fail(err)
		}
	}
	for _, oc := range bench.RunAll(ctx, o) {
		res.Add(oc)
	}
	if old != nil {
		res.Merge(old)
	}
	js, err := res.JSON()
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(filepath.Join(out, "results.json"), js, 0o644); err != nil {
		fail(err)
	}
	if err := os.WriteFile(filepath.Join(out, "results.md"), []byte(res.Markdown()), 0o644); err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s and %s\n", filepath.Join(out, "results.json"), filepath.Join(out, "results.md"))
	if len(res.Failed) > 0 || ctx.Err() != nil {
		os.RemoveAll(localPath)
		os.Exit(1)
	}
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, fmt.Errorf("bad cluster size %q: want increasing positive counts", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
