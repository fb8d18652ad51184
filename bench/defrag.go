package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var defragBench = Bench{
	Name: "defrag",
	Doc: "a 3-member cluster whose database holds -defrag-mib MiB of 64 KiB values, half of it freeable " +
		"(every key written twice, then compacted), defragmented on request (annotation " +
		etcdv1.AnnotationDefragment + "): time per member and for the whole cluster, and the largest write " +
		"gap of a 100 Hz writer on the client Service",
	NeedsCluster: true,
	Run:          defrag,
	// Issue #11's goal for the writer on the client Service: a
	// defragmentation blocks only the member it runs on, and the operator
	// moves the leadership away before defragmenting the leader.
	Goals: map[string]*Goal{"defragmentation: largest write gap": AtMost(0.5)},
}

func defrag(ctx context.Context, env Env) ([]Value, error) {
	return withNamespace(ctx, env, "defrag", func(k *kube, ns string) ([]Value, error) {
		const name = "defrag"
		dataMiB := max(env.DefragMiB, 2)
		// The quota and the volume leave room for the whole file.
		quota := apiresource.MustParse(fmt.Sprintf("%dMi", max(2048, 2*dataMiB)))
		size := apiresource.MustParse(fmt.Sprintf("%dMi", max(4096, 6*dataMiB)))
		if err := k.Create(ctx, newCluster(ns, name, 3, func(c *etcdv1.EtcdCluster) {
			c.Spec.Storage.Size = &size
			c.Spec.Quota.BackendBytes = &quota
		})); err != nil {
			return nil, err
		}
		if _, err := k.waitSettled(ctx, ns, name, 3); err != nil {
			return nil, err
		}
		all, _, err := k.clusterClient(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		defer all.Close()
		// Half the data twice over the same keys, then a compaction: the
		// first half's pages become freeable.
		half := int64(dataMiB) << 19
		for range 2 {
			if err := fill(ctx, all, half); err != nil {
				return nil, err
			}
		}
		rev, err := compactAll(ctx, all)
		if err != nil {
			return nil, err
		}
		before, err := memberSizes(ctx, all)
		if err != nil {
			return nil, err
		}
		env.Logf("defrag: wrote %d MiB, compacted at revision %d; member files %v", dataMiB, rev, mib(before))

		cl, err := k.serviceClient(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		w := startWriter(ctx, cl, writerRate, "/bench/load/")
		stop := func(err error) ([]Value, error) { w.stop(); return nil, err }
		if err := sleep(ctx, settleMargin); err != nil {
			return stop(err)
		}
		start := time.Now()
		c, err := k.cluster(ctx, ns, name)
		if err != nil {
			return stop(err)
		}
		request := strconv.FormatInt(start.UnixNano(), 10)
		patch := client.MergeFrom(c.DeepCopy())
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[etcdv1.AnnotationDefragment] = request
		if err := k.Patch(ctx, c, patch); err != nil {
			return stop(err)
		}
		// Each member's file shrinks when its defragmentation ends: poll
		// every member directly for that moment.
		ends, err := waitShrunk(ctx, all, before)
		if err != nil {
			return stop(err)
		}
		done, err := k.waitCluster(ctx, ns, name, 5*time.Minute, "defragmentation recorded", func(c *etcdv1.EtcdCluster) bool {
			return c.Status.Defragmentation != nil && c.Status.Defragmentation.HandledRequest == request && settled(c, 3)
		})
		if err != nil {
			return stop(err)
		}
		end := time.Now()
		if err := sleep(ctx, settleMargin); err != nil {
			return stop(err)
		}
		ops := w.stop()
		after, err := memberSizes(ctx, all)
		if err != nil {
			return nil, err
		}
		per := memberDurations(start, ends)
		env.Logf("defrag: members done after %v (per member %v); status settled after %s; files %v MiB → %v MiB; %d members recorded",
			sinceAll(start, ends), per, end.Sub(start).Round(time.Millisecond), mib(before), mib(after), len(done.Status.Defragmentation.Members))
		out := []Value{
			{Name: "database file before (largest member)", Unit: "MiB", Value: maxOf(mib(before))},
			{Name: "database file after (largest member)", Unit: "MiB", Value: maxOf(mib(after))},
			{Name: "one member (median)", Unit: "s", Value: Summarize(per).Median},
			{Name: "one member (slowest)", Unit: "s", Value: Summarize(per).Max},
			{Name: "whole cluster: request→last member done", Unit: "s", Value: seconds(lastOf(ends).Sub(start))},
			{Name: "whole cluster: request→status settled", Unit: "s", Value: seconds(end.Sub(start))},
		}
		return append(out, gapValues(env, "defragmentation", ops, start, end)...), nil
	})
}

// compactAll compacts at the current revision and waits for it to apply.
func compactAll(ctx context.Context, cl *clientv3.Client) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	resp, err := cl.Get(ctx, "/fill/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	rev := resp.Header.Revision
	if _, err := cl.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return 0, fmt.Errorf("compacting at %d: %w", rev, err)
	}
	return rev, nil
}

// memberSizes is each member's database file size (dbSize), by endpoint.
func memberSizes(ctx context.Context, cl *clientv3.Client) (map[string]int64, error) {
	out := map[string]int64{}
	for _, ep := range cl.Endpoints() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := cl.Status(sctx, ep)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("status of %s: %w", ep, err)
		}
		out[ep] = st.DbSize
	}
	return out, nil
}

// waitShrunk polls every member until its file is at most three quarters
// of its size before, and returns when each was first seen so.
func waitShrunk(ctx context.Context, cl *clientv3.Client, before map[string]int64) (map[string]time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	ends := map[string]time.Time{}
	for len(ends) < len(before) {
		for ep, size := range before {
			if _, ok := ends[ep]; ok {
				continue
			}
			sctx, scancel := context.WithTimeout(ctx, time.Second)
			st, err := cl.Status(sctx, ep)
			scancel()
			if err == nil && st.DbSize <= size*3/4 {
				ends[ep] = time.Now()
			}
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, fmt.Errorf("%d of %d members defragmented: %w", len(ends), len(before), err)
		}
	}
	return ends, nil
}

// memberDurations orders the end times and gives each member's share: the
// first from the request, each next from the previous member's end (the
// operator defragments one member at a time).
func memberDurations(start time.Time, ends map[string]time.Time) []float64 {
	var ts []time.Time
	for _, t := range ends {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, time.Time.Compare)
	var out []float64
	prev := start
	for _, t := range ts {
		out = append(out, seconds(t.Sub(prev)))
		prev = t
	}
	return out
}

func lastOf(ends map[string]time.Time) time.Time {
	var last time.Time
	for _, t := range ends {
		if t.After(last) {
			last = t
		}
	}
	return last
}

func sinceAll(start time.Time, ends map[string]time.Time) time.Duration {
	return lastOf(ends).Sub(start).Round(time.Millisecond)
}

func mib(sizes map[string]int64) []float64 {
	var out []float64
	for _, s := range sizes {
		out = append(out, float64(s)/(1<<20))
	}
	return out
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
