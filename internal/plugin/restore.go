package plugin

import (
	"context"
	"fmt"
	"time"

	flag "github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// runRestore: `restore NAME --backup B --yes [--name R] [--no-wait]`.
// An in-place restore replaces every member's data with the snapshot, so
// it asks for --yes.
func runRestore(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	backup := fs.String("backup", "", "Succeeded EtcdBackup to restore from")
	yes := fs.Bool("yes", false, "confirm: every member's data is replaced by the snapshot")
	name := fs.String("name", "", "name of the EtcdRestore (default NAME-restore-YYYYMMDD-HHMMSS)")
	noWait := fs.Bool("no-wait", false, "create the restore and return")
	timeout := fs.Duration("timeout", 15*time.Minute, "how long to follow the restore")
	pos, err := parse(env, fs, args, 1, "backup")
	if err != nil {
		return err
	}
	cluster := pos[0]
	if _, err := getCluster(ctx, env, cluster); err != nil {
		return err
	}
	b := &etcdv1.EtcdBackup{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: env.Namespace, Name: *backup}, b); err != nil {
		return fmt.Errorf("reading EtcdBackup %s: %w", *backup, err)
	}
	if b.Status.Phase != etcdv1.BackupSucceeded {
		return fmt.Errorf("EtcdBackup %s is %s, not Succeeded: nothing to restore from", *backup, orDash(string(b.Status.Phase)))
	}
	if !*yes {
		return fmt.Errorf("restoring %s from %s (revision %d) replaces the data of every member and writes after revision %d are lost: run again with --yes",
			cluster, *backup, b.Status.Revision, b.Status.Revision)
	}
	if *name == "" {
		*name = cluster + "-restore-" + time.Now().UTC().Format("20060102-150405")
	}
	r := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: *name, Namespace: env.Namespace},
		Spec: etcdv1.EtcdRestoreSpec{ClusterName: cluster, BackupName: *backup}}
	if err := env.Client.Create(ctx, r); err != nil {
		return fmt.Errorf("creating EtcdRestore %s: %w", *name, err)
	}
	fmt.Fprintf(env.Out, "etcdrestore/%s created\n", *name)
	if *noWait {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return follow(ctx, env, r, func() (string, bool, error) {
		switch r.Status.Phase {
		case etcdv1.RestoreSucceeded:
			return fmt.Sprintf("Succeeded: cluster ID %s, snapshot revision %d", r.Status.ClusterID, r.Status.SnapshotRevision), true, nil
		case etcdv1.RestoreFailed:
			return "", true, fmt.Errorf("restore %s failed: %s", r.Name, conditionMessage(r.Status.Conditions, etcdv1.RestoreConditionFailed))
		}
		return orDash(string(r.Status.Phase)), false, nil
	})
}

func sizeOf(q *resource.Quantity) string {
	if q == nil {
		return "size unknown"
	}
	return bytesOrDash(q.Value())
}
