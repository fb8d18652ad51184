package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"quorum.dev/etcd-operator/controllers/pki"
)

// dataRatioBench compares Quorum's data path with upstream etcd like for
// like (issue #17 item 4): the same etcd version (the upstream binaries
// hack/build-k8s.sh builds, $ETCD_BIN), three members, mutual TLS with a
// root client certificate and authentication on (Quorum's defaults), data
// on the same file system (/var/tmp, where the local cluster's volumes
// live), the same put loads from the same client, run one after the other
// in the same run. The ratio is Quorum's figure over upstream's; a ratio
// well under 1 is overhead of running under Quorum, not of the machine.
// A third side splits that overhead: the same upstream binary and flags in
// three pods of a hand-written StatefulSet (startPodUpstream). Quorum over
// it is Quorum's own cost (its server, options, probes, operator); it over
// the host's is what the pod network and volumes cost any etcd. etcd's own
// `etcdctl check perf` runs against all three: 1 when it passes, 0 when it
// fails, and its slowest request.
var dataRatioBench = Bench{
	Name: "data-ratio",
	Doc: "put loads and etcdctl check perf against 3 upstream etcd processes on the host, a 3-member Quorum " +
		"cluster and the same upstream etcd in 3 hand-written pods (same version, TLS and auth, same disk), in the " +
		"same run; ratios of throughput between them",
	NeedsCluster: true,
	Goals: map[string]*Goal{
		"put, 1 client: throughput ratio Quorum/upstream":   AtLeast(0.9),
		"put, 64 clients: throughput ratio Quorum/upstream": AtLeast(0.9),
	},
	Run: dataRatio,
}

// checkPerfLoads are the etcdctl check perf loads run against each side.
var checkPerfLoads = []string{"s", "m"}

func dataRatio(ctx context.Context, env Env) ([]Value, error) {
	etcdBin := os.Getenv("ETCD_BIN")
	if etcdBin == "" {
		return nil, errors.New("ETCD_BIN must name the directory of the upstream etcd and etcdctl (make bench sets it)")
	}
	return withNamespace(ctx, env, "ratio", func(k *kube, ns string) ([]Value, error) {
		if err := k.Create(ctx, newCluster(ns, "quorum", 3, nil)); err != nil {
			return nil, err
		}
		up, err := startUpstream(ctx, env, etcdBin)
		if err != nil {
			return nil, fmt.Errorf("upstream etcd: %w", err)
		}
		defer up.stop()
		if _, err := k.waitSettled(ctx, ns, "quorum", 3); err != nil {
			return nil, err
		}
		qTLS, qFiles, err := quorumClientFiles(ctx, k, ns, "quorum", up.dir)
		if err != nil {
			return nil, err
		}
		pods, err := k.memberPods(ctx, ns, "quorum")
		if err != nil {
			return nil, err
		}
		qEps := podEndpoints(pods, "https")
		inPods, err := startPodUpstream(ctx, k, ns, etcdBin, up.dir)
		if err != nil {
			return nil, fmt.Errorf("upstream etcd in pods: %w", err)
		}
		sides := []struct {
			name  string
			cfg   clientv3.Config
			eps   []string
			files tlsFiles
		}{
			{"upstream", etcdConfig(up.endpoints, up.clientTLS), up.endpoints, up.files},
			{"Quorum", etcdConfig(qEps, qTLS), qEps, qFiles},
			{"upstream in pods", etcdConfig(inPods.endpoints, inPods.clientTLS), inPods.endpoints, inPods.files},
		}
		var out []Value
		for _, l := range etcdLoads {
			name := fmt.Sprintf("put, %d client", l.clients)
			if l.clients > 1 {
				name += "s"
			}
			var ops [3]float64
			for i, s := range sides {
				cfg := s.cfg
				cfg.DialTimeout = 10 * time.Second
				o, lat, err := putLoadWith(ctx, cfg, l.clients, l.conns, env.EtcdDuration)
				if err != nil {
					return nil, fmt.Errorf("%s, %s: %w", s.name, name, err)
				}
				ops[i] = o
				p50, p99 := Latencies(lat)
				env.Logf("data-ratio: %s, %s: %.0f/s p50 %.2f ms p99 %.2f ms", s.name, name, o, p50, p99)
				out = append(out,
					Value{fmt.Sprintf("%s, %s: throughput", name, s.name), "ops/s", o},
					Value{fmt.Sprintf("%s, %s: p99", name, s.name), "ms", p99})
			}
			out = append(out,
				Value{name + ": throughput ratio Quorum/upstream", "×", ops[1] / ops[0]},
				Value{name + ": throughput ratio Quorum/upstream in pods", "×", ops[1] / ops[2]},
				Value{name + ": throughput ratio upstream in pods/upstream", "×", ops[2] / ops[0]})
		}
		for _, load := range checkPerfLoads {
			for _, s := range sides {
				pass, slowest, err := checkPerf(ctx, etcdBin, s.eps, s.files, load)
				if err != nil {
					return nil, fmt.Errorf("%s: etcdctl check perf --load=%s: %w", s.name, load, err)
				}
				env.Logf("data-ratio: %s: check perf --load=%s pass %v, slowest request %.3f s", s.name, load, pass, slowest)
				out = append(out,
					Value{fmt.Sprintf("check perf --load=%s, %s: passed", load, s.name), "1=yes", b2f(pass)},
					Value{fmt.Sprintf("check perf --load=%s, %s: slowest request", load, s.name), "s", slowest})
			}
		}
		return out, nil
	})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// tlsFiles are a client's certificate, key and CA bundle on disk, for
// etcdctl.
type tlsFiles struct{ cert, key, ca string }

// upstream is three etcd processes on loopback.
type upstream struct {
	dir       string
	procs     []*exec.Cmd
	endpoints []string
	clientTLS *tls.Config
	files     tlsFiles
}

func (u *upstream) stop() {
	for _, p := range u.procs {
		if p.Process != nil {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	}
	_ = os.RemoveAll(u.dir)
}

// startUpstream starts a 3-member upstream etcd cluster with mutual TLS on
// client and peer ports and authentication enabled for a root user that
// authenticates by its certificate's common name, as Quorum's members are
// set up, and waits until it serves.
func startUpstream(ctx context.Context, env Env, etcdBin string) (*upstream, error) {
	dir, err := os.MkdirTemp(env.DiskDir, "bench-upstream-")
	if err != nil {
		return nil, err
	}
	u := &upstream{dir: dir}
	started := false
	defer func() {
		if !started {
			u.stop()
		}
	}()
	now := time.Now()
	ca, err := pki.NewCA("bench-upstream-ca", now, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	member, err := pki.Issue(ca, pki.LeafRequest{CommonName: "upstream-member", DNSNames: []string{"localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Client: true}, now, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	root, err := pki.Issue(ca, pki.LeafRequest{CommonName: "root", Client: true}, now, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"ca.crt": ca.CertPEM, "member.crt": member.CertPEM, "member.key": member.KeyPEM,
		"root.crt": root.CertPEM, "root.key": root.KeyPEM}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			return nil, err
		}
	}
	u.files = tlsFiles{cert: filepath.Join(dir, "root.crt"), key: filepath.Join(dir, "root.key"), ca: filepath.Join(dir, "ca.crt")}
	type ports struct{ client, peer int }
	var ps []ports
	var initial []string
	for i := range 3 {
		c, err := freePort()
		if err != nil {
			return nil, err
		}
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ps = append(ps, ports{c, p})
		initial = append(initial, fmt.Sprintf("m%d=https://127.0.0.1:%d", i, p))
	}
	for i, p := range ps {
		clientURL := fmt.Sprintf("https://127.0.0.1:%d", p.client)
		peerURL := fmt.Sprintf("https://127.0.0.1:%d", p.peer)
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("m%d.log", i)))
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(filepath.Join(etcdBin, "etcd"),
			"--name", fmt.Sprintf("m%d", i), "--data-dir", filepath.Join(dir, fmt.Sprintf("m%d", i)),
			"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
			"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "bench-upstream",
			"--cert-file", filepath.Join(dir, "member.crt"), "--key-file", filepath.Join(dir, "member.key"),
			"--trusted-ca-file", filepath.Join(dir, "ca.crt"), "--client-cert-auth",
			"--peer-cert-file", filepath.Join(dir, "member.crt"), "--peer-key-file", filepath.Join(dir, "member.key"),
			"--peer-trusted-ca-file", filepath.Join(dir, "ca.crt"), "--peer-client-cert-auth")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			_ = logf.Close()
			return nil, err
		}
		_ = logf.Close()
		u.procs = append(u.procs, cmd)
		u.endpoints = append(u.endpoints, clientURL)
	}
	info := transport.TLSInfo{CertFile: u.files.cert, KeyFile: u.files.key, TrustedCAFile: u.files.ca}
	if u.clientTLS, err = info.ClientConfig(); err != nil {
		return nil, err
	}
	if err := enableRootAuth(ctx, u.endpoints, u.clientTLS); err != nil {
		return nil, err
	}
	started = true
	return u, nil
}

// enableRootAuth creates the root user (no password: it authenticates by
// its certificate's common name) with the root role and enables
// authentication, waiting up to a minute for the cluster to serve.
func enableRootAuth(ctx context.Context, eps []string, tlsCfg *tls.Config) error {
	c, err := clientv3.New(etcdConfig(eps, tlsCfg))
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		octx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = c.Put(octx, "bench/ready", "x")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not serving after a minute: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if _, err := c.UserAddWithOptions(ctx, "root", "", &clientv3.UserAddOptions{NoPassword: true}); err != nil {
		return err
	}
	if _, err := c.RoleAdd(ctx, "root"); err != nil && !strings.Contains(err.Error(), "already exists") {
		return err
	}
	if _, err := c.UserGrantRole(ctx, "root", "root"); err != nil {
		return err
	}
	_, err = c.AuthEnable(ctx)
	return err
}

// quorumClientFiles is the cluster's root client TLS configuration and
// its files (under dir) for etcdctl.
func quorumClientFiles(ctx context.Context, k *kube, ns, name, dir string) (*tls.Config, tlsFiles, error) {
	cfg, err := k.clientTLS(ctx, ns, name)
	if err != nil {
		return nil, tlsFiles{}, err
	}
	s := &corev1.Secret{}
	if err := k.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-client-tls"}, s); err != nil {
		return nil, tlsFiles{}, err
	}
	f := tlsFiles{cert: filepath.Join(dir, "quorum.crt"), key: filepath.Join(dir, "quorum.key"), ca: filepath.Join(dir, "quorum-ca.crt")}
	for path, b := range map[string][]byte{f.cert: s.Data["tls.crt"], f.key: s.Data["tls.key"], f.ca: s.Data["ca.crt"]} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, tlsFiles{}, err
		}
	}
	return cfg, f, nil
}

var (
	checkPerfSlowest = regexp.MustCompile(`Slowest request took (?:too long: )?([0-9.]+)s`)
	checkPerfResult  = regexp.MustCompile(`(?m)^(PASS|FAIL)\s*$`)
)

// checkPerf runs `etcdctl check perf --load=load` against eps (about a
// minute) and reads etcdctl's verdict and slowest request. The members'
// certificates name cluster DNS names, not the addresses the host dials,
// so the server name is not checked (the same for both sides); the client
// certificate is.
func checkPerf(ctx context.Context, etcdBin string, eps []string, f tlsFiles, load string) (bool, float64, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(etcdBin, "etcdctl"), "check", "perf", "--load="+load,
		"--endpoints="+strings.Join(eps, ","), "--cert="+f.cert, "--key="+f.key, "--cacert="+f.ca,
		"--insecure-skip-tls-verify")
	out, err := cmd.CombinedOutput()
	pass, slowest, ok := parseCheckPerf(string(out))
	if !ok {
		return false, 0, fmt.Errorf("no verdict (%v): %s", err, out)
	}
	// etcdctl exits non-zero on FAIL; the verdict line says which.
	return pass, slowest, nil
}

// parseCheckPerf reads etcdctl check perf's output: the last verdict line
// ("PASS" or "FAIL" alone) and the slowest request in seconds; ok is false
// when either is missing.
func parseCheckPerf(out string) (pass bool, slowest float64, ok bool) {
	verdict := checkPerfResult.FindAllStringSubmatch(out, -1)
	slow := checkPerfSlowest.FindStringSubmatch(out)
	if len(verdict) == 0 || slow == nil {
		return false, 0, false
	}
	s, err := strconv.ParseFloat(slow[1], 64)
	if err != nil {
		return false, 0, false
	}
	return verdict[len(verdict)-1][1] == "PASS", s, true
}
