package monitoring

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"quorum.dev/etcd-operator/internal/opmetrics"
)

// operatorMetrics is every metric name the operator serves: its own
// (internal/opmetrics, each checked to be registered on controller-runtime's
// registry) and controller-runtime's, gathered from that registry after a
// controller ran one failing reconcile (vectors have no series, and are
// not gathered, before they are used).
func operatorMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	own := opmetrics.Names()
	if len(own) == 0 {
		t.Fatal("opmetrics.Names is empty")
	}
	for _, n := range own {
		names[n] = true
	}
	// Registering a metric of the same name again is refused only if the
	// first one is registered.
	for _, n := range own {
		err := metrics.Registry.Register(prometheus.NewGauge(prometheus.GaugeOpts{Name: n, Help: "probe"}))
		if err == nil {
			t.Errorf("metric %s is not registered on controller-runtime's registry", n)
		}
	}

	done := make(chan struct{}, 1)
	c, err := controller.NewTypedUnmanaged("etcdcluster", controller.TypedOptions[reconcile.Request]{
		SkipNameValidation: ptr.To(true),
		Reconciler: reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
			select {
			case done <- struct{}{}:
			default:
			}
			return reconcile.Result{}, errors.New("fails on purpose")
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Watch(source.TypedFunc[reconcile.Request](func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		q.Add(reconcile.Request{})
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = c.Start(ctx) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the controller did not reconcile")
	}
	// The reconcile's metrics are recorded once Reconcile returns.
	deadline := time.Now().Add(10 * time.Second)
	for {
		fams, err := metrics.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, f := range fams {
			for _, n := range familyNames(f.GetName(), f.GetType().String()) {
				got[n] = true
			}
		}
		if got["controller_runtime_reconcile_time_seconds_bucket"] || time.Now().After(deadline) {
			for n := range got {
				names[n] = true
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return names
}

func freeURL(t *testing.T) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u, _ := url.Parse("http://" + l.Addr().String())
	return *u
}

// etcdMetrics is every metric name a real etcd (embed, the server
// quorum-etcd runs) serves at /metrics on its client URL, after a write
// and a read so that the per-request series exist.
func etcdMetrics(t *testing.T) map[string]bool {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name = "m0"
	cfg.Dir = t.TempDir()
	cfg.LogLevel = "error"
	client, peer := freeURL(t), freeURL(t)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = fmt.Sprintf("m0=%s", peer.String())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("etcd not ready")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client.String()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(client.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		// "# TYPE name type"
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			for _, n := range familyNames(f[2], f[3]) {
				names[n] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"etcd_server_has_leader", "etcd_disk_wal_fsync_duration_seconds_bucket"} {
		if !names[n] {
			t.Fatalf("etcd's /metrics lacks %s: the scrape is not etcd's", n)
		}
	}
	return names
}
