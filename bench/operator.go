package bench

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func init() {
	Register(Bench{
		Name: "operator",
		Doc:  "operator cost in envtest with 1, 10 and 50 EtcdClusters, pods never ready",
		Run:  operatorBench,
	})
}

const benchNamespace = "bench"

// operatorBench runs the operator's reconcilers against envtest and adds
// clusters up to each size; after the first pass of every cluster and a
// short settle, it measures a window of steady state.
func operatorBench(ctx context.Context, env Env) ([]Value, error) {
	ctrl.SetLogger(logr.Discard())
	te := &envtest.Environment{CRDDirectoryPaths: []string{env.CRDDir}, ErrorIfCRDPathMissing: true}
	cfg, err := te.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest (is KUBEBUILDER_ASSETS set?): %w", err)
	}
	defer func() { _ = te.Stop() }()

	counter := newRequestCounter()
	mcfg := rest.CopyConfig(cfg)
	mcfg.QPS = -1 // as ctrl.GetConfig: no client-side throttling
	mcfg.Wrap(counter.wrap)
	mgr, err := newManager(mcfg)
	if err != nil {
		return nil, err
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() { stop(); <-done }()

	k8s, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		return nil, err
	}
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}); err != nil {
		return nil, err
	}
	var out []Value
	created := 0
	for _, n := range env.Sizes {
		for ; created < n; created++ {
			c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%03d", created), Namespace: benchNamespace}}
			if err := k8s.Create(ctx, c); err != nil {
				return nil, err
			}
		}
		prefix := fmt.Sprintf("%d clusters", n)
		if n == 1 {
			prefix = "1 cluster"
		}
		t0 := time.Now()
		if err := waitFirstPass(ctx, k8s, n); err != nil {
			return nil, err
		}
		env.Logf("operator: %s: all passed once after %s; settling", prefix, time.Since(t0).Round(time.Millisecond))
		if err := sleep(ctx, settleTime); err != nil {
			return nil, err
		}
		vs, err := measureWindow(ctx, env, counter, prefix)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

// settleTime lets the burst after creation pass: two settling requeues.
const settleTime = 10 * time.Second

// waitFirstPass waits until n clusters carry a status.
func waitFirstPass(ctx context.Context, k8s client.Client, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		var l etcdv1.EtcdClusterList
		if err := k8s.List(ctx, &l, client.InNamespace(benchNamespace)); err != nil {
			return err
		}
		done := 0
		for _, c := range l.Items {
			if len(c.Status.Conditions) > 0 {
				done++
			}
		}
		if done >= n {
			return nil
		}
		if err := sleep(ctx, time.Second); err != nil {
			return fmt.Errorf("%d of %d clusters got a status: %w", done, n, err)
		}
	}
}

// measureWindow measures reconciles, API requests, CPU time and memory
// during env.Window.
func measureWindow(ctx context.Context, env Env, counter *requestCounter, prefix string) ([]Value, error) {
	rec0, err := reconciles("etcdcluster")
	if err != nil {
		return nil, err
	}
	req0 := counter.snapshot()
	cpu0 := cpuTime()
	start := time.Now()
	var heap, rss float64
	for time.Since(start) < env.Window {
		heap, rss = max(heap, heapInUse()), max(rss, residentSet())
		if err := sleep(ctx, min(time.Second, env.Window-time.Since(start))); err != nil {
			return nil, err
		}
	}
	heap, rss = max(heap, heapInUse()), max(rss, residentSet())
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	req := counter.snapshot().minus(req0)
	rec1, err := reconciles("etcdcluster")
	if err != nil {
		return nil, err
	}
	env.Logf("operator: %s: writes in the window: %s", prefix, req.top(8))
	perMin := func(x float64) float64 { return x / elapsed.Minutes() }
	return []Value{
		{prefix + ": reconciles", "/min", perMin(rec1 - rec0)},
		{prefix + ": API writes", "/min", perMin(float64(req.writes))},
		{prefix + ": API reads", "/min", perMin(float64(req.reads))},
		{prefix + ": CPU", "% of a core", cpu.Seconds() / elapsed.Seconds() * 100},
		{prefix + ": heap in use (max)", "MiB", heap},
		{prefix + ": RSS (max)", "MiB", rss},
	}, nil
}

// reconciles sums controller_runtime_reconcile_total of one controller.
func reconciles(controller string) (float64, error) {
	fams, err := metrics.Registry.Gather()
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum, nil
}

// cpuTime is the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// residentSet is VmRSS of this process in MiB.
func residentSet() float64 {
	var kb float64
	for _, line := range strings.Split(readFile("/proc/self/status"), "\n") {
		if _, err := fmt.Sscanf(line, "VmRSS: %f kB", &kb); err == nil {
			return kb / 1024
		}
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
