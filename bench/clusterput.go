package bench

import (
	"context"
	"fmt"
	"time"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var clusterPutBench = Bench{
	Name: "cluster-put",
	Doc: "put throughput and latency from the host to managed clusters of 1 and 3 members through every " +
		"member's pod IP, TLS and auth on (the default) and off; same loads as the etcd calibration",
	NeedsCluster: true,
	Run:          clusterPut,
}

func clusterPut(ctx context.Context, env Env) ([]Value, error) {
	return withNamespace(ctx, env, "put", func(k *kube, ns string) ([]Value, error) {
		type target struct {
			name, mode string
			n          int
		}
		var targets []target
		// All clusters start together; the loads then run one at a time
		// while the others idle.
		for _, tlsOn := range []bool{true, false} {
			for _, n := range []int{1, 3} {
				t := target{fmt.Sprintf("tls%d", n), "TLS on", n}
				var mut func(*etcdv1.EtcdCluster)
				if !tlsOn {
					t = target{fmt.Sprintf("plain%d", n), "TLS off", n}
					mut = tlsOff
				}
				if err := k.Create(ctx, newCluster(ns, t.name, int32(n), mut)); err != nil {
					return nil, err
				}
				targets = append(targets, t)
			}
		}
		for _, t := range targets {
			if _, err := k.waitSettled(ctx, ns, t.name, t.n); err != nil {
				return nil, err
			}
		}
		var out []Value
		for _, t := range targets {
			c, err := k.cluster(ctx, ns, t.name)
			if err != nil {
				return nil, err
			}
			var cfgEps []string
			pods, err := k.memberPods(ctx, ns, t.name)
			if err != nil {
				return nil, err
			}
			cfgEps = podEndpoints(pods, c.Scheme())
			cfg := etcdConfig(cfgEps, nil)
			if c.TLSEnabled() {
				tlsCfg, err := k.clientTLS(ctx, ns, t.name)
				if err != nil {
					return nil, err
				}
				cfg = etcdConfig(cfgEps, tlsCfg)
			}
			cfg.DialTimeout = 10 * time.Second
			for _, l := range etcdLoads {
				ops, lat, err := putLoadWith(ctx, cfg, l.clients, l.conns, env.EtcdDuration)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", t.name, err)
				}
				p50, p99 := Latencies(lat)
				name := fmt.Sprintf("put, %s, %s, %d client", t.mode, memberCount(t.n), l.clients)
				if l.clients > 1 {
					name += "s"
				}
				env.Logf("cluster-put: %s: %d puts, %.0f/s", name, len(lat), ops)
				out = append(out,
					Value{name + ": throughput", "ops/s", ops},
					Value{name + ": p50", "ms", p50},
					Value{name + ": p99", "ms", p99})
			}
		}
		return out, nil
	})
}
