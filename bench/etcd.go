package bench

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"quorum.dev/etcd-operator/controllers/pki"
	"quorum.dev/etcd-operator/etcdserver/server"
)

func init() {
	Register(Bench{
		Name:        "etcd",
		Doc:         "put throughput and latency of the bundled etcd on this host, one member on loopback",
		Calibration: true,
		Run:         etcdBench,
	})
}

// Put load shapes: clients (goroutines) sharing conns connections.
var etcdLoads = []struct{ clients, conns int }{{1, 1}, {64, 4}}

const etcdValueSize = 256

func etcdBench(ctx context.Context, env Env) ([]Value, error) {
	var out []Value
	for _, tlsOn := range []bool{false, true} {
		mode := "TLS off"
		if tlsOn {
			mode = "TLS on"
		}
		vs, err := etcdMode(ctx, env, tlsOn, mode)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", mode, err)
		}
		out = append(out, vs...)
	}
	return out, nil
}

// etcdMode starts a fresh member and runs each load against it.
func etcdMode(ctx context.Context, env Env, tlsOn bool, mode string) ([]Value, error) {
	dir, err := os.MkdirTemp(env.DiskDir, "bench-etcd-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var tlsDir server.TLSDir
	var clientTLS *tls.Config
	if tlsOn {
		if tlsDir, err = writeTLSDir(filepath.Join(dir, "tls")); err != nil {
			return nil, err
		}
		info := transport.TLSInfo{CertFile: tlsDir.CertFile(), KeyFile: tlsDir.KeyFile(), TrustedCAFile: tlsDir.CAFile()}
		if clientTLS, err = info.ClientConfig(); err != nil {
			return nil, err
		}
	}
	e, endpoint, err := startEtcd(dir, tlsDir)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	var out []Value
	for _, l := range etcdLoads {
		ops, lat, err := putLoad(ctx, endpoint, clientTLS, l.clients, l.conns, env.EtcdDuration)
		if err != nil {
			return nil, err
		}
		p50, p99 := Latencies(lat)
		name := fmt.Sprintf("put, %s, %d client", mode, l.clients)
		if l.clients > 1 {
			name += "s"
		}
		env.Logf("etcd: %s: %d puts", name, len(lat))
		out = append(out,
			Value{name + ": throughput", "ops/s", ops},
			Value{name + ": p50", "ms", p50},
			Value{name + ": p99", "ms", p99})
	}
	return out, nil
}

// startEtcd starts one member the way quorum-etcd configures it, on
// loopback free ports, and returns it with its client endpoint.
func startEtcd(dir string, tlsDir server.TLSDir) (*embed.Etcd, string, error) {
	opts := filepath.Join(dir, "etcd.yaml")
	if err := os.WriteFile(opts, []byte("log-level: error\n"), 0o600); err != nil {
		return nil, "", err
	}
	var u [3]url.URL
	for i := range u {
		p, err := freePort()
		if err != nil {
			return nil, "", err
		}
		scheme := tlsDir.Scheme()
		if i == 2 {
			scheme = "http" // metrics
		}
		u[i] = url.URL{Scheme: scheme, Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))}
	}
	s := server.Settings{
		Name: "bench", DataDir: filepath.Join(dir, "data"), ClusterToken: "bench",
		ListenPeerURL: u[0], AdvertisePeerURL: u[0], ListenClientURL: u[1], AdvertiseClientURL: u[1], ListenMetricsURL: u[2],
		ServerTLS: tlsDir, PeerTLS: tlsDir, ConfigFile: opts,
	}
	b := server.Bootstrap{Mode: server.ModeNew, InitialCluster: []server.Peer{{Name: s.Name, URL: u[0]}}}
	cfg, err := s.EmbedConfig(b)
	if err != nil {
		return nil, "", err
	}
	// Quiet: Close logs "server closed" errors; failures show as put errors.
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, u[1].String(), nil
	case err := <-e.Err():
		e.Server.Stop()
		e.Close()
		return nil, "", fmt.Errorf("etcd failed: %w", err)
	case <-time.After(time.Minute):
		e.Server.Stop()
		e.Close()
		return nil, "", errors.New("etcd not ready within a minute")
	}
}

// putLoad runs clients goroutines putting 256-byte values over conns
// connections for d; it returns the throughput and every latency.
func putLoad(ctx context.Context, endpoint string, tlsCfg *tls.Config, clients, conns int, d time.Duration) (float64, []time.Duration, error) {
	return putLoadWith(ctx, clientv3.Config{Endpoints: []string{endpoint}, TLS: tlsCfg, DialTimeout: 10 * time.Second, Logger: zap.NewNop()}, clients, conns, d)
}

// putLoadWith is putLoad with connections made from cfg.
func putLoadWith(ctx context.Context, cfg clientv3.Config, clients, conns int, d time.Duration) (float64, []time.Duration, error) {
	cs := make([]*clientv3.Client, conns)
	for i := range cs {
		c, err := clientv3.New(cfg)
		if err != nil {
			return 0, nil, err
		}
		defer c.Close()
		if _, err := c.Put(ctx, "bench/warmup", "x"); err != nil {
			return 0, nil, err
		}
		cs[i] = c
	}
	val := make([]byte, etcdValueSize)
	_, _ = rand.Read(val)
	v := string(val)
	lats := make([][]time.Duration, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for g := range clients {
		wg.Go(func() {
			c := cs[g%conns]
			for i := 0; time.Now().Before(stop); i++ {
				t0 := time.Now()
				if _, err := c.Put(ctx, fmt.Sprintf("bench/%d/%d", g, i), v); err != nil {
					errs[g] = err
					return
				}
				lats[g] = append(lats[g], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, nil, err
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	return float64(len(all)) / elapsed.Seconds(), all, nil
}

// writeTLSDir writes a throwaway CA and a server+client certificate for
// 127.0.0.1 in the layout quorum-etcd reads.
func writeTLSDir(dir string) (server.TLSDir, error) {
	now := time.Now()
	ca, err := pki.NewCA("bench-ca", now, 24*time.Hour)
	if err != nil {
		return "", err
	}
	leaf, err := pki.Issue(ca, pki.LeafRequest{CommonName: "bench", DNSNames: []string{"localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Client: true}, now, 24*time.Hour)
	if err != nil {
		return "", err
	}
	d := server.TLSDir(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for path, data := range map[string][]byte{d.CertFile(): leaf.CertPEM, d.KeyFile(): leaf.KeyPEM, d.CAFile(): ca.CertPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return "", err
		}
	}
	return d, nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
