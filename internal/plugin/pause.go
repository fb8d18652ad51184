package plugin

import (
	"context"
	"fmt"

	flag "github.com/spf13/pflag"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// pausePatch is the merge patch that sets (pause) or removes the
// etcd.quorum.dev/paused annotation.
func pausePatch(pause bool) []byte {
	if pause {
		return fmt.Appendf(nil, `{"metadata":{"annotations":{%q:"true"}}}`, etcdv1.AnnotationPaused)
	}
	return fmt.Appendf(nil, `{"metadata":{"annotations":{%q:null}}}`, etcdv1.AnnotationPaused)
}

// runPause: `pause NAME`. Sets etcd.quorum.dev/paused=true: the operator
// changes nothing of the cluster until `resume` (see
// etcdv1.AnnotationPaused).
func runPause(ctx context.Context, env *Env, args []string) error {
	return setPaused(ctx, env, args, true)
}

// runResume: `resume NAME`. Removes the annotation; the operator resumes.
func runResume(ctx context.Context, env *Env, args []string) error {
	return setPaused(ctx, env, args, false)
}

func setPaused(ctx context.Context, env *Env, args []string, pause bool) error {
	name := map[bool]string{true: "pause", false: "resume"}[pause]
	pos, err := parse(env, flag.NewFlagSet(name, flag.ContinueOnError), args, 1)
	if err != nil {
		return err
	}
	c, err := getCluster(ctx, env, pos[0])
	if err != nil {
		return err
	}
	if c.Paused() == pause {
		fmt.Fprintf(env.Out, "%s is already %s\n", c.Name, map[bool]string{true: "paused", false: "not paused"}[pause])
		return nil
	}
	if err := env.Client.Patch(ctx, c, client.RawPatch("application/merge-patch+json", pausePatch(pause))); err != nil {
		return fmt.Errorf("%s %s: %w", name, c.Name, err)
	}
	if pause {
		fmt.Fprintf(env.Out, "%s paused: the operator changes nothing of it until `kubectl quorum resume %s`\n", c.Name, c.Name)
	} else {
		fmt.Fprintf(env.Out, "%s resumed: the operator reconciles it again\n", c.Name)
	}
	return nil
}
