package history

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// proxy forwards a member's client traffic so a test can cut every client
// connection at once, as a crashed member would.
type proxy struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { l.Close(); p.cut() })
	return p
}

func (p *proxy) url() url.URL { return url.URL{Scheme: "http", Host: p.l.Addr().String()} }

func (p *proxy) serve() {
	for {
		in, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		if p.down { // cut while dialing
			in.Close()
			out.Close()
		} else {
			p.conns[in], p.conns[out] = true, true
			go p.pipe(in, out)
			go p.pipe(out, in)
		}
		p.mu.Unlock()
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut closes every connection and refuses new ones until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

type member struct {
	name        string
	dir         string
	client      url.URL // the member's own listener
	peer        url.URL
	proxy       *proxy // what clients dial
	etcd        *embed.Etcd
	initCluster string
}

// cluster is an embedded etcd cluster on loopback ports.
type cluster struct {
	t       *testing.T
	members []*member
	// quota is the backend quota in bytes; 0: etcd's default.
	quota int64
}

var (
	portsMu sync.Mutex
	used    = map[int]bool{}
)

// freeURL picks a free loopback port below the kernel's ephemeral range,
// so outgoing connections cannot take it while a member is down.
func freeURL(t *testing.T) url.URL {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				low = n
			}
		}
	}
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := 10000 + rand.IntN(low-10000)
		if used[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		used[port] = true
		return url.URL{Scheme: "http", Host: l.Addr().String()}
	}
	t.Fatal("no free loopback port")
	return url.URL{}
}

func startCluster(t *testing.T, size int) *cluster {
	t.Helper()
	return startClusterWithQuota(t, size, 0)
}

func startClusterWithQuota(t *testing.T, size int, quota int64) *cluster {
	t.Helper()
	c := &cluster{t: t, quota: quota}
	var initial []string
	for i := range size {
		m := &member{name: fmt.Sprintf("m%d", i), dir: t.TempDir(), client: freeURL(t), peer: freeURL(t)}
		m.proxy = newProxy(t, m.client.Host)
		initial = append(initial, fmt.Sprintf("%s=%s", m.name, m.peer.String()))
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		m.initCluster = strings.Join(initial, ",")
	}
	t.Cleanup(func() {
		for i, m := range c.members {
			if m.etcd != nil {
				c.stop(i)
			}
		}
	})
	for i := range c.members {
		c.start(i)
	}
	for i := range c.members {
		c.waitReady(i)
	}
	return c
}

func (c *cluster) start(i int) {
	m := c.members[i]
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = m.name, m.dir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.TickMs, cfg.ElectionMs = 50, 500
	cfg.UnsafeNoFsync = true
	cfg.QuotaBackendBytes = c.quota
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{m.client}, []url.URL{m.proxy.url()}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{m.peer}, []url.URL{m.peer}
	cfg.InitialCluster = m.initCluster
	cfg.InitialClusterToken = "history-test"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		c.t.Fatalf("starting member %s: %v", m.name, err)
	}
	m.etcd = e
}

func (c *cluster) waitReady(i int) {
	m := c.members[i]
	select {
	case <-m.etcd.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		c.t.Fatalf("member %s not ready", m.name)
	}
	m.proxy.restore()
}

// stop crashes member i: clients lose their connections and raft stops
// without handing over leadership.
func (c *cluster) stop(i int) {
	m := c.members[i]
	m.proxy.cut()
	m.etcd.Server.HardStop()
	m.etcd.Close()
	m.etcd = nil
}

func (c *cluster) restart(i int) {
	c.start(i)
	c.waitReady(i)
}

func (c *cluster) leader() int {
	for i, m := range c.members {
		if m.etcd != nil && m.etcd.Server.Leader() == m.etcd.Server.MemberID() {
			return i
		}
	}
	return -1
}

func (c *cluster) endpoints(which ...int) []string {
	if len(which) == 0 {
		for i := range c.members {
			which = append(which, i)
		}
	}
	var eps []string
	for _, i := range which {
		u := c.members[i].proxy.url()
		eps = append(eps, u.String())
	}
	return eps
}

func (c *cluster) client(which ...int) *clientv3.Client {
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.endpoints(which...), DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cli.Close() })
	return cli
}

// waitLeader waits until some running member leads.
func (c *cluster) waitLeader(ctx context.Context) int {
	for ctx.Err() == nil {
		if l := c.leader(); l >= 0 {
			return l
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader")
	return -1
}
