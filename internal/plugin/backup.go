package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	flag "github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// BackupFlags are the destination flags of `backup`. With none of the
// S3 or PVC flags, the destination is the backup template of the cluster's
// EtcdBackupSchedule (Schedule names it when the cluster has several).
// An S3 destination takes exactly one way to credentials: S3Credentials
// (a Secret of static keys), S3WebIdentitySA (with S3RoleARN,
// S3STSEndpoint, S3Audience) or S3InstanceRole (S3InstanceRoleSA implies
// it); see S3Location.
type BackupFlags struct {
	S3Endpoint, S3Bucket, S3Prefix, S3Region, S3Credentials string
	S3Insecure                                              bool
	S3WebIdentitySA, S3RoleARN, S3STSEndpoint, S3Audience   string
	S3InstanceRole                                          bool
	S3InstanceRoleSA                                        string
	PVC, PVCPrefix                                          string
	Schedule                                                string
	Compression                                             string
}

// s3CredentialFlags names the credential modes for messages.
const s3CredentialFlags = "--s3-credentials-secret, --s3-web-identity-sa or --s3-instance-role"

// s3Credentials sets the credentials of loc from f: exactly one mode, and
// the web identity's own flags only with it. Pure.
func (f BackupFlags) s3Credentials(loc *etcdv1.S3Location) error {
	var modes []string
	if f.S3Credentials != "" {
		modes = append(modes, "--s3-credentials-secret")
	}
	if f.S3WebIdentitySA != "" {
		modes = append(modes, "--s3-web-identity-sa")
	}
	if f.S3InstanceRole || f.S3InstanceRoleSA != "" {
		modes = append(modes, "--s3-instance-role")
	}
	webOnly := f.S3RoleARN != "" || f.S3STSEndpoint != "" || f.S3Audience != ""
	switch {
	case len(modes) > 1:
		return fmt.Errorf("give one of %s, not %s together: they are different ways to S3 credentials", s3CredentialFlags, strings.Join(modes, " and "))
	case webOnly && f.S3WebIdentitySA == "":
		return errors.New("--s3-role-arn, --s3-sts-endpoint and --s3-audience go with --s3-web-identity-sa (the service account whose token STS exchanges)")
	case f.S3Credentials != "":
		loc.CredentialsSecretName = f.S3Credentials
	case f.S3WebIdentitySA != "":
		loc.WebIdentity = &etcdv1.S3WebIdentity{ServiceAccountName: f.S3WebIdentitySA, RoleARN: f.S3RoleARN, STSEndpoint: f.S3STSEndpoint, Audience: f.S3Audience}
	case len(modes) == 1:
		loc.InstanceRole = &etcdv1.S3InstanceRole{ServiceAccountName: f.S3InstanceRoleSA}
	}
	return nil
}

// BackupSpecFor is the spec of a backup of cluster from flags, or from
// the template of one of schedules (those of any cluster: only the
// cluster's own are considered). Errors say which flags are missing.
func BackupSpecFor(cluster string, f BackupFlags, schedules []etcdv1.EtcdBackupSchedule) (etcdv1.EtcdBackupSpec, error) {
	creds := f.S3Credentials != "" || f.S3WebIdentitySA != "" || f.S3InstanceRole || f.S3InstanceRoleSA != ""
	s3 := f.S3Endpoint != "" || f.S3Bucket != "" || creds || f.S3RoleARN != "" || f.S3STSEndpoint != "" || f.S3Audience != ""
	pvc := f.PVC != ""
	switch {
	case s3 && pvc:
		return etcdv1.EtcdBackupSpec{}, errors.New("give either the --s3-* flags or --pvc, not both")
	case s3:
		var missing []string
		for flag, v := range map[string]string{"--s3-endpoint": f.S3Endpoint, "--s3-bucket": f.S3Bucket} {
			if v == "" {
				missing = append(missing, flag)
			}
		}
		missing = sortedStrings(missing)
		if !creds {
			missing = append(missing, s3CredentialFlags)
		}
		if len(missing) > 0 {
			return etcdv1.EtcdBackupSpec{}, fmt.Errorf("an S3 destination also needs %s", strings.Join(missing, ", "))
		}
		loc := &etcdv1.S3Location{Endpoint: f.S3Endpoint, Bucket: f.S3Bucket, Prefix: f.S3Prefix, Region: f.S3Region, Insecure: f.S3Insecure}
		if err := f.s3Credentials(loc); err != nil {
			return etcdv1.EtcdBackupSpec{}, err
		}
		return etcdv1.EtcdBackupSpec{ClusterName: cluster, Compression: f.Compression, Destination: etcdv1.BackupLocation{S3: loc}}, nil
	case pvc:
		return etcdv1.EtcdBackupSpec{ClusterName: cluster, Compression: f.Compression, Destination: etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: f.PVC, Prefix: f.PVCPrefix}}}, nil
	}
	var own []string
	for i := range schedules {
		s := &schedules[i]
		if s.Spec.BackupTemplate.ClusterName != cluster {
			continue
		}
		if f.Schedule == "" || f.Schedule == s.Name {
			own = append(own, s.Name)
			if f.Schedule == s.Name {
				spec := s.Spec.BackupTemplate.BackupSpec()
				if f.Compression != "" {
					spec.Compression = f.Compression
				}
				return spec, nil
			}
		}
	}
	switch {
	case f.Schedule != "":
		return etcdv1.EtcdBackupSpec{}, fmt.Errorf("EtcdBackupSchedule %s does not back up %s", f.Schedule, cluster)
	case len(own) == 0:
		return etcdv1.EtcdBackupSpec{}, fmt.Errorf("%s has no EtcdBackupSchedule to take the destination from: give --s3-endpoint, --s3-bucket and %s, or --pvc", cluster, s3CredentialFlags)
	case len(own) > 1:
		return etcdv1.EtcdBackupSpec{}, fmt.Errorf("%s has several EtcdBackupSchedules (%s): name one with --schedule", cluster, strings.Join(own, ", "))
	}
	return BackupSpecFor(cluster, BackupFlags{Schedule: own[0], Compression: f.Compression}, schedules)
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// runBackup: `backup NAME [destination flags] [--name B] [--no-wait]`.
func runBackup(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	var f BackupFlags
	fs.StringVar(&f.S3Endpoint, "s3-endpoint", "", "S3 server host[:port]")
	fs.StringVar(&f.S3Bucket, "s3-bucket", "", "S3 bucket")
	fs.StringVar(&f.S3Prefix, "s3-prefix", "", "prefix of the object keys")
	fs.StringVar(&f.S3Region, "s3-region", "", "bucket region")
	fs.StringVar(&f.S3Credentials, "s3-credentials-secret", "", "Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys)")
	fs.StringVar(&f.S3WebIdentitySA, "s3-web-identity-sa", "", "ServiceAccount whose token is exchanged at STS for credentials (AssumeRoleWithWebIdentity; IRSA)")
	fs.StringVar(&f.S3RoleARN, "s3-role-arn", "", "role to assume with --s3-web-identity-sa")
	fs.StringVar(&f.S3STSEndpoint, "s3-sts-endpoint", "", "STS URL for --s3-web-identity-sa (default AWS STS)")
	fs.StringVar(&f.S3Audience, "s3-audience", "", "audience of the token for --s3-web-identity-sa (default "+etcdv1.DefaultWebIdentityAudience+")")
	fs.BoolVar(&f.S3InstanceRole, "s3-instance-role", false, "credentials of the pod's environment (EKS Pod Identity, else the node's instance profile)")
	fs.StringVar(&f.S3InstanceRoleSA, "s3-instance-role-sa", "", "ServiceAccount the backup pod runs as with --s3-instance-role (EKS Pod Identity); implies it")
	fs.BoolVar(&f.S3Insecure, "s3-insecure", false, "plain http")
	fs.StringVar(&f.PVC, "pvc", "", "PersistentVolumeClaim to write to")
	fs.StringVar(&f.PVCPrefix, "pvc-prefix", "", "directory in the claim")
	fs.StringVar(&f.Schedule, "schedule", "", "EtcdBackupSchedule whose destination to use")
	fs.StringVar(&f.Compression, "compression", "", "zstd (default), gzip or none")
	name := fs.String("name", "", "name of the EtcdBackup (default NAME-YYYYMMDD-HHMMSS)")
	noWait := fs.Bool("no-wait", false, "create the backup and return")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to follow the backup")
	pos, err := parse(env, fs, args, 1)
	if err != nil {
		return err
	}
	cluster := pos[0]
	if _, err := getCluster(ctx, env, cluster); err != nil {
		return err
	}
	schedules := &etcdv1.EtcdBackupScheduleList{}
	if err := env.Client.List(ctx, schedules, client.InNamespace(env.Namespace)); err != nil {
		return fmt.Errorf("listing EtcdBackupSchedules: %w", err)
	}
	spec, err := BackupSpecFor(cluster, f, schedules.Items)
	if err != nil {
		return err
	}
	if *name == "" {
		*name = cluster + "-" + time.Now().UTC().Format("20060102-150405")
	}
	b := &etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: *name, Namespace: env.Namespace}, Spec: spec}
	if err := env.Client.Create(ctx, b); err != nil {
		return fmt.Errorf("creating EtcdBackup %s: %w", *name, err)
	}
	fmt.Fprintf(env.Out, "etcdbackup/%s created\n", *name)
	if *noWait {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return follow(ctx, env, b, func() (string, bool, error) {
		switch b.Status.Phase {
		case etcdv1.BackupSucceeded:
			return fmt.Sprintf("Succeeded: revision %d, %s, %s", b.Status.Revision, sizeOf(b.Status.Size), b.Status.Location), true, nil
		case etcdv1.BackupFailed:
			return "", true, fmt.Errorf("backup %s failed: %s", b.Name, conditionMessage(b.Status.Conditions, etcdv1.BackupConditionFailed))
		}
		return orDash(string(b.Status.Phase)), false, nil
	})
}

// follow re-reads obj every two seconds and prints each new line that
// state returns, until state says done or ctx ends.
func follow(ctx context.Context, env *Env, obj client.Object, state func() (line string, done bool, err error)) error {
	last := ""
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return fmt.Errorf("reading %s: %w", obj.GetName(), err)
		}
		line, done, err := state()
		if line != "" && line != last {
			fmt.Fprintf(env.Out, "%s %s\n", time.Now().Format("15:04:05"), line)
			last = line
		}
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped following %s (it goes on): %w", obj.GetName(), ctx.Err())
		case <-tick.C:
		}
	}
}

func conditionMessage(conds []metav1.Condition, t string) string {
	if c := meta.FindStatusCondition(conds, t); c != nil {
		return c.Reason + ": " + c.Message
	}
	return "no " + t + " condition"
}
