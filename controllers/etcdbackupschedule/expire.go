package etcdbackupschedule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/identity"
	"quorum.dev/etcd-operator/controllers/internal/jobs"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/internal/contract"
)

// expireBackups removes the backups retention selects: the stored manifest
// first (a snapshot without manifest reads as incomplete, never the other
// way round), then the snapshot, then the EtcdBackup. Files on a claim are
// removed by a prune Job; the EtcdBackup goes once it has completed.
func (r *Reconciler) expireBackups(ctx context.Context, p *schedulePass) error {
	s := p.schedule
	stores := map[string]ObjectStore{}
	var errs []error
	policy := retentionOf(&s.Spec)
	expired := expiredBackups(p.backups, policy, p.now)
	if len(expired) > 0 {
		var names []string
		for _, b := range expired {
			names = append(names, b.Name)
		}
		log.FromContext(ctx).V(1).Info("retention decision", "keepLast", policy.keepLast, "maxAge", policy.maxAge,
			"succeeded", len(newestFirst(p.backups, etcdv1.BackupSucceeded)), "expire", names,
			"why", "beyond keepLast or older than maxAge; the newest succeeded backup is always kept")
	}
	for _, b := range expired {
		key := b.Status.Key
		if key == "" {
			key = render.BackupKey(b)
		}
		loc, pvc := b.Spec.Destination.S3, b.Spec.Destination.PVC
		switch {
		case loc != nil && loc.CredentialsSecretName != "":
			st, ok := stores[storeKey(loc)]
			if !ok {
				var err error
				if st, err = r.Stores.Open(ctx, s.Namespace, loc); err != nil {
					errs = append(errs, fmt.Errorf("expiring %s: %w", b.Name, err))
					continue
				}
				stores[storeKey(loc)] = st
			}
			if err := st.Remove(ctx, key+contract.ManifestSuffix, key); err != nil {
				errs = append(errs, fmt.Errorf("expiring %s: %w", b.Name, err))
				continue
			}
		default: // a claim, or a bucket only pods can reach (webIdentity, instanceRole)
			done, failed, err := r.pruneJob(ctx, p, b)
			if err != nil {
				return err
			}
			if failed != nil {
				errs = append(errs, fmt.Errorf("expiring %s: %w", b.Name, failed))
			}
			if !done {
				continue
			}
		}
		if err := r.deleteBackup(ctx, b); err != nil {
			return err
		}
		if loc != nil {
			r.Recorder.Eventf(s, b, corev1.EventTypeNormal, "BackupExpired", "Retention", "expired %s: deleted s3://%s/%s", b.Name, loc.Bucket, key)
		} else if pvc != nil {
			r.Recorder.Eventf(s, b, corev1.EventTypeNormal, "BackupExpired", "Retention",
				"expired %s: deleted file %s from claim %s", b.Name, key, pvc.ClaimName)
		}
	}
	p.retention = errors.Join(errs...)
	return nil
}

// pruneJob runs the Job that removes a backup's files from its claim or
// bucket, owned by the EtcdBackup, and tells whether it has completed. A failed
// Job is returned as failed, and kept for RequeueRetentionRetry so that
// the failure stays reported and a failing prune does not loop; it is
// then deleted, and a later pass retries.
func (r *Reconciler) pruneJob(ctx context.Context, p *schedulePass, b *etcdv1.EtcdBackup) (done bool, failed, err error) {
	job := &batchv1.Job{}
	err = r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: render.PruneJobName(b)}, job)
	switch {
	case apierrors.IsNotFound(err):
		// A bucket only pods can reach: the prune Job runs as the
		// location's ServiceAccount, which must exist for its pod to be made.
		missing, err := identity.MissingServiceAccount(ctx, r.APIReader, b.Namespace, b.Spec.Destination)
		if err != nil {
			return false, nil, err
		}
		if missing != "" {
			return false, fmt.Errorf("%s; no prune Job is created until it exists (retried every %s)", missing, RequeueRetentionRetry), nil
		}
		return false, nil, r.startPrune(ctx, p, b)
	case err != nil:
		return false, nil, fmt.Errorf("reading job: %w", err)
	case !metav1.IsControlledBy(job, b):
		return false, fmt.Errorf("job %s exists and is not controlled by %s", job.Name, b.Name), nil
	case jobs.Complete(job):
		return true, nil, nil
	case !jobs.Failed(job):
		failed, err := r.prunePodRefused(ctx, p, job)
		return false, failed, err
	}
	msg, err := jobs.Report(ctx, r.APIReader, job)
	if err != nil {
		return false, nil, err
	}
	failedAt := time.Time{}
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			failedAt, msg = c.LastTransitionTime.Time, cmp.Or(msg, c.Message, c.Reason, "no message")
		}
	}
	if p.now.Sub(failedAt) >= RequeueRetentionRetry {
		err := r.Delete(ctx, job, client.Preconditions{UID: &job.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) {
			return false, nil, fmt.Errorf("deleting failed job %s: %w", job.Name, err)
		}
	}
	return false, fmt.Errorf("prune job %s failed: %s", job.Name, msg), nil
}

// prunePodRefused reports, as a failure to expire (RetentionFailed), a
// running prune Job whose pod the API server refuses (PodSecurity
// admission, a ResourceQuota, a LimitRange, a missing ServiceAccount: the
// Job's FailedCreate events, read from the API server while it has no
// pod). The Job is kept: the Job controller retries until its deadline,
// and a later pass deletes it once it has failed and retries.
func (r *Reconciler) prunePodRefused(ctx context.Context, p *schedulePass, job *batchv1.Job) (failed, err error) {
	pods, err := jobs.Pods(ctx, r.Client, job)
	if err != nil || jobs.Unfinished(pods) {
		return nil, err
	}
	refusal, err := jobs.PodCreateFailure(ctx, r.APIReader, job)
	if err != nil {
		return nil, err
	}
	if refusal == "" {
		p.pruneWithoutPod = true
		return nil, nil
	}
	log.FromContext(ctx).V(1).Info("prune pod refused by the API server", "job", job.Name, "refusal", refusal)
	return fmt.Errorf("prune job %s: %s; the Job controller retries until the Job's deadline, then the prune is run again: "+
		"fix the namespace's PodSecurity level, ResourceQuota or LimitRange", job.Name, jobs.PodCreateMessage(refusal)), nil
}

// startPrune creates the prune Job of a backup, from its cluster's image,
// or the default one if the cluster is gone or the backup's source is an
// external etcd.
func (r *Reconciler) startPrune(ctx context.Context, p *schedulePass, b *etcdv1.EtcdBackup) error {
	c := &etcdv1.EtcdCluster{}
	if b.Spec.ClusterName == "" { // an external source: the default image
		c = nil
	} else if err := r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: b.Spec.ClusterName}, c); apierrors.IsNotFound(err) {
		c = nil
	} else if err != nil {
		return fmt.Errorf("reading cluster %s: %w", b.Spec.ClusterName, err)
	}
	o := r.Render
	o.ImageRepository = cmp.Or(o.ImageRepository, render.DefaultImageRepository)
	job := render.PruneJob(b, c, o)
	if created, err := jobs.Create(ctx, r.Client, r.Scheme, b, job); err != nil || !created {
		return err
	}
	where := "bucket " + ptrS3Bucket(b)
	if pvc := b.Spec.Destination.PVC; pvc != nil {
		where = "claim " + pvc.ClaimName
	}
	r.Recorder.Eventf(p.schedule, b, corev1.EventTypeNormal, "BackupExpiring", "Retention",
		"expiring %s: job %s removes its files from %s", b.Name, job.Name, where)
	return nil
}

// trimFailed deletes failed EtcdBackups beyond the history limit; they
// stored nothing, so only the object goes.
func (r *Reconciler) trimFailed(ctx context.Context, p *schedulePass) error {
	limit := failedHistoryLimit(&p.schedule.Spec)
	for _, b := range excessFailed(p.backups, limit) {
		log.FromContext(ctx).V(1).Info("deleting a failed backup beyond the history limit", "backup", b.Name, "failedBackupsHistoryLimit", limit)
		if err := r.deleteBackup(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

func ptrS3Bucket(b *etcdv1.EtcdBackup) string {
	if s3 := b.Spec.Destination.S3; s3 != nil {
		return s3.Bucket
	}
	return ""
}
