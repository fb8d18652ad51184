package bench

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// statusLagBench: how soon the status follows the members when every
// member pod is deleted at once (issue 17, item 6).
var statusLagBench = Bench{
	Name: "status-lag",
	Doc: "every member pod of a settled 3-member cluster deleted at once (default grace period); the status polled " +
		"every 20 ms: time from the deletion to status.readyReplicas below 3, to Available=False, and to settled again",
	NeedsCluster: true,
	Goals: map[string]*Goal{
		"all pods deleted: readyReplicas below 3": AtMost(2),
		"all pods deleted: Available=False":       AtMost(2),
	},
	Run: statusLag,
}

// statusPoll is how often the status is read: well under the goal.
const statusPoll = 20 * time.Millisecond

func statusLag(ctx context.Context, env Env) ([]Value, error) {
	return withNamespace(ctx, env, "lag", func(k *kube, ns string) ([]Value, error) {
		const name = "lag"
		if err := k.Create(ctx, newCluster(ns, name, 3, tlsOff)); err != nil {
			return nil, err
		}
		if _, err := k.waitSettled(ctx, ns, name, 3); err != nil {
			return nil, err
		}
		if err := sleep(ctx, settleMargin); err != nil {
			return nil, err
		}
		pods, err := k.memberPods(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		for i := range pods {
			if err := k.Delete(ctx, &pods[i], client.Preconditions{UID: &pods[i].UID}); err != nil {
				return nil, fmt.Errorf("deleting %s: %w", pods[i].Name, err)
			}
		}
		env.Logf("status-lag: deleted %d member pods", len(pods))
		var notReady, unavailable time.Duration
		pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		for notReady == 0 || unavailable == 0 {
			c, err := k.cluster(pctx, ns, name)
			if err == nil {
				since := time.Since(start)
				if notReady == 0 && c.Status.ReadyReplicas < 3 {
					notReady = since
				}
				if unavailable == 0 && !meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable) {
					unavailable = since
				}
			}
			if err := sleep(pctx, statusPoll); err != nil {
				return nil, fmt.Errorf("status did not follow the deleted pods (readyReplicas below 3 after %s, Available=False after %s): %w",
					notReady, unavailable, err)
			}
		}
		if _, err := k.waitSettled(ctx, ns, name, 3); err != nil {
			return nil, err
		}
		back := time.Since(start)
		env.Logf("status-lag: readyReplicas below 3 after %s, Available=False after %s, settled again after %s",
			notReady.Round(time.Millisecond), unavailable.Round(time.Millisecond), back.Round(time.Millisecond))
		return []Value{
			{"all pods deleted: readyReplicas below 3", "s", seconds(notReady)},
			{"all pods deleted: Available=False", "s", seconds(unavailable)},
			{"all pods deleted: settled again", "s", seconds(back)},
		}, nil
	})
}
