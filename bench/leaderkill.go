package bench

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var leaderKillBench = Bench{
	Name: "leader-kill",
	Doc: "largest write gap of a 100 Hz writer on the followers when the leader pod of a 3-member cluster " +
		"is deleted with grace period 0 (the kubelet still sends SIGTERM first, and etcd hands leadership over " +
		"as it stops), the time to a new leader, to the replacement pod ready and to 3 healthy members",
	NeedsCluster: true,
	Run:          leaderKill,
}

func leaderKill(ctx context.Context, env Env) ([]Value, error) {
	return withNamespace(ctx, env, "kill", func(k *kube, ns string) ([]Value, error) {
		const name = "kill"
		if err := k.Create(ctx, newCluster(ns, name, 3, nil)); err != nil {
			return nil, err
		}
		if _, err := k.waitSettled(ctx, ns, name, 3); err != nil {
			return nil, err
		}
		all, tlsCfg, err := k.clusterClient(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		defer all.Close()
		victim, oldLeader, err := leaderMember(ctx, all)
		if err != nil {
			return nil, err
		}
		pods, err := k.memberPods(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		// The writer talks to the followers only: the gap is the cluster's
		// (election, forwarding), not a client's dead connection.
		cl, err := etcdClient(podEndpoints(pods, "https", victim), tlsCfg)
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		w := startWriter(ctx, cl, writerRate, "/bench/load/")
		if err := sleep(ctx, settleMargin); err != nil {
			w.stop()
			return nil, err
		}
		pod := &corev1.Pod{}
		if err := k.Get(ctx, client.ObjectKey{Namespace: ns, Name: victim}, pod); err != nil {
			w.stop()
			return nil, err
		}
		oldUID := pod.UID
		start := time.Now()
		if err := k.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil {
			w.stop()
			return nil, err
		}
		env.Logf("leader-kill: deleted leader pod %s", victim)
		// A follower reports another leader; then 3 healthy members again.
		elected, err := waitNewLeader(ctx, cl, oldLeader)
		if err != nil {
			w.stop()
			return nil, err
		}
		newLeader := elected.Sub(start)
		// The status may still show the old member healthy: first the
		// replacement pod must be ready, then the status settled.
		if err := k.waitReplaced(ctx, ns, victim, oldUID); err != nil {
			w.stop()
			return nil, err
		}
		replaced := time.Since(start)
		if _, err := k.waitSettled(ctx, ns, name, 3); err != nil {
			w.stop()
			return nil, err
		}
		recovered := time.Since(start)
		if err := sleep(ctx, settleMargin); err != nil {
			w.stop()
			return nil, err
		}
		ops := w.stop()
		env.Logf("leader-kill: a new leader after %s; replacement pod ready after %s; 3 healthy members after %s",
			newLeader.Round(time.Millisecond), replaced.Round(time.Millisecond), recovered.Round(time.Millisecond))
		out := gapValues(env, "leader killed", ops, start, start.Add(recovered))
		return append(out,
			Value{"leader killed: new leader elected", "s", seconds(newLeader)},
			Value{"leader killed: replacement pod ready", "s", seconds(replaced)},
			Value{"leader killed: 3 healthy members again", "s", seconds(recovered)},
		), nil
	})
}

// waitNewLeader polls the members cl talks to until one reports a leader
// other than old, and returns when it saw it.
func waitNewLeader(ctx context.Context, cl *clientv3.Client, old uint64) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		for _, ep := range cl.Endpoints() {
			sctx, scancel := context.WithTimeout(ctx, 500*time.Millisecond)
			st, err := cl.Status(sctx, ep)
			scancel()
			if err == nil && st.Leader != 0 && st.Leader != old {
				return time.Now(), nil
			}
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return time.Time{}, fmt.Errorf("no new leader: %w", err)
		}
	}
}

// leaderMember asks etcd which member leads: its name (the pod's) and ID.
func leaderMember(ctx context.Context, cl *clientv3.Client) (string, uint64, error) {
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := cl.Status(octx, cl.Endpoints()[0])
	if err != nil {
		return "", 0, err
	}
	ml, err := cl.MemberList(octx)
	if err != nil {
		return "", 0, err
	}
	for _, m := range ml.Members {
		if m.ID == st.Leader {
			return m.Name, m.ID, nil
		}
	}
	return "", 0, fmt.Errorf("leader %x not in the member list", st.Leader)
}

// waitReplaced waits until pod name exists with a UID other than old and
// is ready.
func (k *kube) waitReplaced(ctx context.Context, ns, name string, old types.UID) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		p := &corev1.Pod{}
		if err := k.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err == nil && p.UID != old && podReady(p) {
			return nil
		}
		if err := sleep(ctx, pollEvery); err != nil {
			return fmt.Errorf("pod %s not replaced: %w", name, err)
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
