package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var backupRestoreBench = Bench{
	Name: "backup-restore",
	Doc: "a 3-member cluster filled with -backup-mib of incompressible 64 KiB values, backed up (zstd, the default codec) to a real " +
		"MinIO on the host: backup duration and throughput, p99 of a 100 Hz put load before and during the " +
		"backup; then a new 3-member cluster restored from it: time to the first read",
	NeedsCluster: true,
	Run:          backupRestore,
	// Issue #17: backup and restore near what the disk and the network allow.
	Goals: map[string]*Goal{
		"backup: throughput (raw snapshot / duration)":  AtLeast(150),
		"restore into 3 new members: create→first read": AtMost(8),
	},
}

const (
	fillValueSize = 64 << 10
	fillWorkers   = 8
	// latencyWindow is how long the put load runs before the backup.
	latencyWindow = 10 * time.Second
	firstFillKey  = "/fill/0000000"
)

func backupRestore(ctx context.Context, env Env) ([]Value, error) {
	srv, bucket, stopMinio, err := startMinio(env)
	if err != nil {
		return nil, err
	}
	defer stopMinio()
	env.Logf("backup-restore: MinIO on %s, bucket %s", srv.Endpoint, bucket)
	return withNamespace(ctx, env, "backup", func(k *kube, ns string) ([]Value, error) {
		dataMiB := max(env.BackupMiB, 1)
		// Room for the data, its WAL and a compaction: quota and volume
		// grow with the data beyond the defaults.
		quota := apiresource.MustParse(fmt.Sprintf("%dMi", max(2048, 2*dataMiB)))
		size := apiresource.MustParse(fmt.Sprintf("%dMi", max(4096, 6*dataMiB)))
		storage := func(c *etcdv1.EtcdCluster) {
			c.Spec.Storage.Size = &size
			c.Spec.Quota.BackendBytes = &quota
		}
		if err := k.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: ns}, StringData: map[string]string{
			"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}}); err != nil {
			return nil, err
		}
		const src, dst = "src", "restored"
		if err := k.Create(ctx, newCluster(ns, src, 3, storage)); err != nil {
			return nil, err
		}
		if _, err := k.waitSettled(ctx, ns, src, 3); err != nil {
			return nil, err
		}
		cl, _, err := k.clusterClient(ctx, ns, src)
		if err != nil {
			return nil, err
		}
		defer cl.Close()

		fillStart := time.Now()
		if err := fill(ctx, cl, int64(dataMiB)<<20); err != nil {
			return nil, err
		}
		fillTime := time.Since(fillStart)
		env.Logf("backup-restore: filled %d MiB in %s", dataMiB, fillTime.Round(time.Millisecond))

		w := startWriter(ctx, cl, writerRate, "/bench/load/")
		stop := func(err error) ([]Value, error) { w.stop(); return nil, err }
		baseStart := time.Now()
		if err := sleep(ctx, latencyWindow); err != nil {
			return stop(err)
		}
		backupStart := time.Now()
		b := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "full", Namespace: ns}, Spec: etcdv1.EtcdBackupSpec{
			ClusterName: src,
			Destination: etcdv1.BackupLocation{S3: &etcdv1.S3Location{
				Endpoint: srv.Endpoint, Bucket: bucket, Prefix: "bench", Insecure: true, CredentialsSecretName: "s3"}},
		}}
		if err := k.Create(ctx, b); err != nil {
			return stop(err)
		}
		if err := k.waitBackup(ctx, b); err != nil {
			return stop(err)
		}
		backupEnd := time.Now()
		ops := w.stop()
		if b.Status.Size == nil {
			return nil, errors.New("the backup reports no size")
		}
		snapMiB := float64(b.Status.Size.Value()) / (1 << 20)
		backupTime := backupEnd.Sub(backupStart)
		_, p99Before := Latencies(latenciesIn(ops, baseStart, backupStart))
		_, p99During := Latencies(latenciesIn(ops, backupStart, backupEnd))
		failed := failedIn(ops, baseStart, backupEnd)
		jobTime, err := k.jobContainerTime(ctx, ns, b.Status.JobName)
		if err != nil {
			return nil, err
		}
		env.Logf("backup-restore: snapshot %.0f MiB backed up in %s (job container %s); put p99 %.1f ms before, %.1f ms during; %d failed puts",
			snapMiB, backupTime.Round(time.Millisecond), jobTime, p99Before, p99During, failed)

		restoreStart := time.Now()
		if err := k.Create(ctx, newCluster(ns, dst, 3, func(c *etcdv1.EtcdCluster) {
			storage(c)
			c.Spec.Bootstrap = &etcdv1.BootstrapSpec{Restore: &etcdv1.RestoreSpec{BackupName: b.Name}}
		})); err != nil {
			return nil, err
		}
		firstRead, err := k.untilRead(ctx, ns, dst, firstFillKey)
		if err != nil {
			return nil, err
		}
		if _, err := k.waitReady(ctx, ns, dst, 3); err != nil {
			return nil, err
		}
		restoreReady := time.Since(restoreStart)
		env.Logf("backup-restore: restored cluster: first read after %s, Ready after %s",
			firstRead.Sub(restoreStart).Round(time.Millisecond), restoreReady.Round(time.Millisecond))
		return []Value{
			{"fill: put throughput (64 KiB values, 8 clients)", "MiB/s", float64(dataMiB) / fillTime.Seconds()},
			{"backup: raw snapshot size", "MiB", snapMiB},
			{"backup: duration (create→Succeeded)", "s", seconds(backupTime)},
			{"backup: throughput (raw snapshot / duration)", "MiB/s", snapMiB / backupTime.Seconds()},
			{"backup: job container run time", "s", seconds(jobTime)},
			{"100 Hz puts before the backup: p99", "ms", p99Before},
			{"100 Hz puts during the backup: p99", "ms", p99During},
			{"100 Hz puts before and during the backup: failed", "count", float64(failed)},
			{"restore into 3 new members: create→first read", "s", seconds(firstRead.Sub(restoreStart))},
			{"restore into 3 new members: create→Ready", "s", seconds(restoreReady)},
		}, nil
	})
}

// fill puts total bytes of 64 KiB values from fillWorkers goroutines. Every
// value is new random bytes: no codec finds anything to compress (one value
// repeated would be compressed a thousandfold by zstd, whose window spans
// many values, and not at all by gzip, whose 32 KiB window does not).
func fill(ctx context.Context, cl *clientv3.Client, total int64) error {
	n := (total + fillValueSize - 1) / fillValueSize
	var next atomic.Int64
	errs := make([]error, fillWorkers)
	var wg sync.WaitGroup
	for g := range fillWorkers {
		wg.Go(func() {
			buf := make([]byte, fillValueSize)
			for {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				_, _ = rand.Read(buf)
				pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, err := cl.Put(pctx, fmt.Sprintf("/fill/%07d", i), string(buf))
				cancel()
				if err != nil {
					errs[g] = fmt.Errorf("put %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitBackup polls b until it succeeds (b holds its status) or fails.
func (k *kube) waitBackup(ctx context.Context, b *etcdv1.EtcdBackup) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	for {
		if err := k.Get(ctx, client.ObjectKeyFromObject(b), b); err != nil {
			return err
		}
		switch b.Status.Phase {
		case etcdv1.BackupSucceeded:
			return nil
		case etcdv1.BackupFailed:
			return fmt.Errorf("backup failed: %+v", b.Status.Conditions)
		}
		if err := sleep(ctx, pollEvery); err != nil {
			return fmt.Errorf("backup not done: phase %s: %w", b.Status.Phase, err)
		}
	}
}

// jobContainerTime is how long the container of the job's pod ran (the
// kubelet records whole seconds).
func (k *kube) jobContainerTime(ctx context.Context, ns, job string) (time.Duration, error) {
	pods := &corev1.PodList{}
	if err := k.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{"batch.kubernetes.io/job-name": job}); err != nil {
		return 0, err
	}
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && t.ExitCode == 0 {
				return t.FinishedAt.Sub(t.StartedAt.Time), nil
			}
		}
	}
	return 0, fmt.Errorf("no pod of job %s finished", job)
}

// untilRead tries to read key from the cluster's member pods every
// pollEvery until it is there, and returns when it was read.
func (k *kube) untilRead(ctx context.Context, ns, name, key string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var last error
	for {
		err := func() error {
			tlsCfg, err := k.clientTLS(ctx, ns, name)
			if err != nil {
				return err
			}
			pods, err := k.memberPods(ctx, ns, name)
			if err != nil {
				return err
			}
			eps := podEndpoints(pods, "https")
			if len(eps) == 0 {
				return errors.New("no pod has an IP")
			}
			cl, err := etcdClient(eps, tlsCfg)
			if err != nil {
				return err
			}
			defer cl.Close()
			gctx, gcancel := context.WithTimeout(ctx, time.Second)
			defer gcancel()
			resp, err := cl.Get(gctx, key)
			if err != nil {
				return err
			}
			if len(resp.Kvs) != 1 || len(resp.Kvs[0].Value) != fillValueSize {
				return fmt.Errorf("read %s: %d values", key, len(resp.Kvs))
			}
			return nil
		}()
		if err == nil {
			return time.Now(), nil
		}
		last = err
		if err := sleep(ctx, pollEvery); err != nil {
			return time.Time{}, fmt.Errorf("%s/%s: no read of %s: %w (last: %v)", ns, name, key, err, last)
		}
	}
}
