package bench

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

var scaleLoadBench = Bench{
	Name: "scale-load",
	Doc: "scale 3→5 and 5→3 under a 100 Hz put load: duration of each scale (patch to settled), " +
		"largest write gap and failed puts",
	NeedsCluster: true,
	Run:          scaleLoad,
	// Issue #17: scale-up in about one pod start per member.
	Goals: map[string]*Goal{"3→5: duration": AtMost(14)},
}

// settleMargin is how long a writer keeps going after an event, so that a
// gap at the end of the event shows.
const settleMargin = 3 * time.Second

func scaleLoad(ctx context.Context, env Env) ([]Value, error) {
	return withNamespace(ctx, env, "scale", func(k *kube, ns string) ([]Value, error) {
		const name = "scale"
		if err := k.Create(ctx, newCluster(ns, name, 3, nil)); err != nil {
			return nil, err
		}
		if _, err := k.waitSettled(ctx, ns, name, 3); err != nil {
			return nil, err
		}
		// Members 0-2 stay throughout: the writer talks to them.
		cl, _, err := k.clusterClient(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		w := startWriter(ctx, cl, writerRate, "/bench/load/")
		if err := sleep(ctx, settleMargin); err != nil {
			w.stop()
			return nil, err
		}
		type phase struct {
			label    string
			from, to time.Time
		}
		var phases []phase
		for _, s := range []struct{ from, to int32 }{{3, 5}, {5, 3}} {
			start := time.Now()
			if err := k.scaleTo(ctx, ns, name, s.to); err != nil {
				w.stop()
				return nil, err
			}
			if _, err := k.waitSettled(ctx, ns, name, int(s.to)); err != nil {
				w.stop()
				return nil, err
			}
			end := time.Now()
			env.Logf("scale-load: %d→%d took %s", s.from, s.to, end.Sub(start).Round(time.Millisecond))
			phases = append(phases, phase{fmt.Sprintf("%d→%d", s.from, s.to), start, end})
			if err := sleep(ctx, settleMargin); err != nil {
				w.stop()
				return nil, err
			}
		}
		ops := w.stop()
		var out []Value
		for _, p := range phases {
			out = append(out, Value{p.label + ": duration", "s", seconds(p.to.Sub(p.from))})
			out = append(out, gapValues(env, p.label, ops, p.from, p.to)...)
		}
		return out, nil
	})
}

func (k *kube) scaleTo(ctx context.Context, ns, name string, n int32) error {
	c, err := k.cluster(ctx, ns, name)
	if err != nil {
		return err
	}
	patch := client.MergeFrom(c.DeepCopy())
	c.Spec.Replicas = &n
	return k.Patch(ctx, c, patch)
}
