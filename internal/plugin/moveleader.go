package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	flag "github.com/spf13/pflag"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// MemberID is the hex etcd member ID of the member named name in status.
func MemberID(c *etcdv1.EtcdCluster, name string) (string, error) {
	var names []string
	for _, m := range c.Status.Members {
		if m.Name == name {
			if m.ID == "" {
				return "", fmt.Errorf("member %s has no ID in status yet", name)
			}
			if m.Role == etcdv1.RoleLearner {
				return "", fmt.Errorf("member %s is a learner: leadership moves only to a voting member", name)
			}
			return m.ID, nil
		}
		names = append(names, m.Name)
	}
	return "", fmt.Errorf("%s is not a member of %s (members: %s)", name, c.Name, strings.Join(names, ", "))
}

// LeaderID is the ID of the raft leader in the output of
// `etcdctl endpoint status -w json` (decimal IDs); 0 when no endpoint in
// it names a leader.
func LeaderID(endpointStatusJSON []byte) (uint64, error) {
	var eps []struct {
		Status struct {
			Leader uint64 `json:"leader"`
		} `json:"Status"`
	}
	if err := json.Unmarshal(endpointStatusJSON, &eps); err != nil {
		return 0, fmt.Errorf("reading etcdctl endpoint status: %w", err)
	}
	for _, ep := range eps {
		if ep.Status.Leader != 0 {
			return ep.Status.Leader, nil
		}
	}
	return 0, nil
}

// runMoveLeader: `move-leader NAME --to MEMBER`. The leader is asked of
// etcd, not read from status (which may be a reconcile old): moving
// leadership to the member that leads does nothing.
func runMoveLeader(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("move-leader", flag.ContinueOnError)
	to := fs.String("to", "", "member (pod name) to make leader")
	pos, err := parse(env, fs, args, 1, "to")
	if err != nil {
		return err
	}
	c, err := getCluster(ctx, env, pos[0])
	if err != nil {
		return err
	}
	id, err := MemberID(c, *to)
	if err != nil {
		return err
	}
	want, err := strconv.ParseUint(id, 16, 64)
	if err != nil {
		return fmt.Errorf("member %s has ID %q in status, not a hex member ID: %w", *to, id, err)
	}
	var out, errOut bytes.Buffer
	runErr := runEtcdctlIn(ctx, env, c, []string{"endpoint", "status", "-w", "json"}, &out, &errOut)
	// With a member down, etcdctl still prints the others' status (and
	// fails): one of them names the leader.
	leader, err := LeaderID(out.Bytes())
	if leader == 0 {
		why := errors.Join(runErr, err)
		if why == nil {
			why = errors.New("no member names a leader")
		}
		return fmt.Errorf("asking etcd which member leads (etcdctl endpoint status): %w; %s", why, strings.TrimSpace(errOut.String()))
	}
	if leader == want {
		fmt.Fprintf(env.Out, "%s (ID %s) already leads %s: nothing to do\n", *to, id, c.Name)
		return nil
	}
	return runEtcdctlIn(ctx, env, c, []string{"move-leader", id}, env.Out, env.Err)
}
