package plugin

import (
	"context"
	"fmt"
	"time"

	flag "github.com/spf13/pflag"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// DefragPolicy describes spec.defragmentation in one line.
func DefragPolicy(c *etcdv1.EtcdCluster) string {
	d := c.Spec.Defragmentation
	if d == nil || (d.Schedule == "" && d.FreeablePercent == nil && d.FreeableBytes == nil) {
		return "on request only (and on NOSPACE recovery)"
	}
	s := ""
	if d.Schedule != "" {
		s += fmt.Sprintf("schedule %q; ", d.Schedule)
	}
	if d.FreeablePercent != nil {
		s += fmt.Sprintf("when %d%% is freeable; ", *d.FreeablePercent)
	}
	if d.FreeableBytes != nil {
		s += fmt.Sprintf("when %s is freeable; ", d.FreeableBytes.String())
	}
	return s + "on request; on NOSPACE recovery"
}

// runDefrag: `defrag NAME [--request]`. There is no defragmentation
// resource: the operator defragments on its own per spec.defragmentation,
// and once per new value of the etcd.quorum.dev/defragment annotation,
// which --request sets (then follows status.defragmentation).
func runDefrag(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("defrag", flag.ContinueOnError)
	request := fs.Bool("request", false, "ask the operator for one defragmentation of every member now (annotation "+etcdv1.AnnotationDefragment+")")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to follow the requested round")
	pos, err := parse(env, fs, args, 1)
	if err != nil {
		return err
	}
	c, err := getCluster(ctx, env, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Out, "There is no defragmentation resource: the operator defragments %s itself, one member at a time, leader last.\n", c.Name)
	fmt.Fprintf(env.Out, "Policy (spec.defragmentation): %s\n", DefragPolicy(c))
	if !*request {
		fmt.Fprintf(env.Out, "Run with --request to ask for one round now.\n")
		return nil
	}
	value := time.Now().UTC().Format(time.RFC3339)
	patch := client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, etcdv1.AnnotationDefragment, value))
	if err := env.Client.Patch(ctx, c, patch); err != nil {
		return fmt.Errorf("setting %s on %s: %w", etcdv1.AnnotationDefragment, c.Name, err)
	}
	fmt.Fprintf(env.Out, "requested: %s=%s\n", etcdv1.AnnotationDefragment, value)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return follow(ctx, env, c, func() (string, bool, error) {
		d := c.Status.Defragmentation
		if d != nil && d.HandledRequest == value && len(d.Pending) == 0 {
			return "done: every member defragmented", true, nil
		}
		return Operation(c), false, nil
	})
}
