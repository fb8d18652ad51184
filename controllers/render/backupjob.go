package render

import (
	"path"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Mount points in backup and restore pods.
const (
	backupDir         = "/backup"
	s3CADir           = "/etc/quorum/s3-ca"
	encryptionKeyDir  = "/etc/quorum/backup-key"
	rootPasswordDir   = "/etc/quorum/auth"
	externalTLSDir    = "/etc/quorum/external-tls"
	externalAuthDir   = "/etc/quorum/external-auth"
	s3TokenDir        = "/var/run/secrets/quorum.dev/s3-token"
	labelBackupName   = "etcd.quorum.dev/backup"
	backupJobSuffix   = "-backup"
	maxJobNameLength  = 63 - len(backupJobSuffix)
	backupTimeLayout  = "20060102T150405Z"
	backupObjectLabel = "backup"
)

// BackupJobName is the Job that runs a backup.
func BackupJobName(b *etcdv1.EtcdBackup) string {
	n := b.Name
	if len(n) > maxJobNameLength {
		n = n[:maxJobNameLength]
	}
	return strings.TrimRight(n, "-.") + backupJobSuffix
}

// BackupKey is where a backup is stored, relative to the bucket or claim:
// <prefix>/<namespace>/<cluster>/<backup>-<creation time><BackupKeySuffix>,
// with "external" for <cluster> when the source is spec.external.
// It is derived from the EtcdBackup only, so every pass computes the same
// key. Backups made before the suffix named the encoding were stored under
// ".db" whatever their encoding; their key is the one kept in their status,
// which restores, retention and prune Jobs read first.
func BackupKey(b *etcdv1.EtcdBackup) string {
	prefix := ""
	if s3 := b.Spec.Destination.S3; s3 != nil {
		prefix = s3.Prefix
	} else if pvc := b.Spec.Destination.PVC; pvc != nil {
		prefix = pvc.Prefix
	}
	name := b.Name + "-" + b.CreationTimestamp.UTC().Format(backupTimeLayout) + BackupKeySuffix(b)
	source := b.Spec.ClusterName
	if b.Spec.External != nil {
		source = etcdv1.ExternalKeyDir
	}
	return strings.TrimPrefix(path.Join(prefix, b.Namespace, source, name), "/")
}

// BackupKeySuffix names the encoding of the stored object, outermost
// last, as file tools expect: ".db" for a raw snapshot (what `etcdutl
// snapshot restore` reads), ".db.zst" once compressed with zstd (the
// default), ".db.gz" with gzip, and ".enc" appended when encrypted with
// AES-256-GCM (quorum-etcd's format, see etcdserver/backup/crypt.go), e.g.
// ".db.zst.enc".
func BackupKeySuffix(b *etcdv1.EtcdBackup) string {
	s := ".db"
	switch or(b.Spec.Compression, etcdv1.DefaultBackupCompression) {
	case "zstd":
		s += ".zst"
	case "gzip":
		s += ".gz"
	}
	if b.Spec.EncryptionKey != nil {
		s += ".enc"
	}
	return s
}

// BackupJob runs `quorum-etcd backup`: it streams a snapshot from a healthy
// member to the destination and reports the manifest in its termination
// message. A backup of an EtcdCluster c runs from c's own server image with
// c's client certificate (or root password); a backup of an external etcd
// (spec.external; c is nil) runs from the default image with the Secrets
// the spec names (addExternal).
func BackupJob(b *etcdv1.EtcdBackup, c *etcdv1.EtcdCluster, o Options) *batchv1.Job {
	st := storeAccess{
		vols:   []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		mounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
	}
	// The key in the status, once set, is the one the backup was started
	// with (an operator upgrade may have changed BackupKey since).
	args := []string{"backup", "", "--key=" + or(b.Status.Key, BackupKey(b)), "--compress=" + or(b.Spec.Compression, etcdv1.DefaultBackupCompression)}
	var image string
	var labels map[string]string
	if ext := b.Spec.External; ext != nil {
		args[1] = "--endpoints=" + ext.EndpointList()
		args = append(args, "--source="+etcdv1.ExternalKeyDir+" "+ext.EndpointList())
		st.addExternal(ext)
		image = o.DefaultImage()
		labels = map[string]string{etcdv1.LabelManagedBy: etcdv1.ManagedByValue, etcdv1.LabelComponent: backupObjectLabel}
	} else {
		var endpoints []string
		for i := 0; i < int(c.DesiredReplicas()); i++ {
			endpoints = append(endpoints, c.MemberClientURL(i, o.Domain()))
		}
		args[1] = "--endpoints=" + strings.Join(endpoints, ",")
		args = append(args, "--source=EtcdCluster "+c.Namespace+"/"+c.Name)
		switch {
		case c.ClientTLS():
			st.addSecret("client-tls", c.ClientSecretName(), ClientTLSDir, nil)
			args = append(args, "--tls-dir="+ClientTLSDir)
		case c.AuthEnabled():
			st.addSecret("root-password", c.RootPasswordSecretName(), rootPasswordDir, []corev1.KeyToPath{{Key: "password", Path: "password"}})
			args = append(args, "--user=root", "--password-file="+rootPasswordDir+"/password")
		}
		image = o.Image(c)
		labels = jobLabels(c, backupObjectLabel)
	}
	st.addStore(b.Spec.Destination, b.Spec.EncryptionKey)
	args = append(args, st.args...)

	labels[labelBackupName] = b.Name
	// A failed backup is reported, not retried: the schedule takes the
	// next one.
	meta := metav1.ObjectMeta{Name: BackupJobName(b), Namespace: b.Namespace, Labels: labels}
	return toolJob(meta, 3600, "backup", image, st.env, storeAccess{vols: st.vols, mounts: st.mounts, serviceAccount: st.serviceAccount}, args)
}

// addExternal mounts the Secrets of an external source: the TLS Secret
// whole (ca.crt, and tls.crt with tls.key when the cluster checks client
// certificates; `quorum-etcd backup --tls-dir` takes the CA alone when
// they are absent), the user from the auth Secret's username key as
// $QUORUM_ETCD_USER and its password key as a file.
func (st *storeAccess) addExternal(ext *etcdv1.ExternalEtcd) {
	if ext.TLS != nil {
		st.addSecret("external-tls", ext.TLS.SecretName, externalTLSDir, nil)
		st.args = append(st.args, "--tls-dir="+externalTLSDir)
	}
	if a := ext.Auth; a != nil {
		st.env = append(st.env, corev1.EnvVar{Name: "QUORUM_ETCD_USER", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: a.SecretName}, Key: etcdv1.ExternalAuthUsernameKey}}})
		st.addSecret("external-auth", a.SecretName, externalAuthDir, []corev1.KeyToPath{{Key: etcdv1.ExternalAuthPasswordKey, Path: "password"}})
		st.args = append(st.args, "--password-file="+externalAuthDir+"/password")
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// storeAccess is what a pod needs to reach a backup location: flags,
// environment (S3 credentials), mounted Secrets, claims or tokens, and the
// service account to run as (web identity, instance role; "" keeps the
// default).
type storeAccess struct {
	args           []string
	env            []corev1.EnvVar
	vols           []corev1.Volume
	mounts         []corev1.VolumeMount
	serviceAccount string
	// noSessionToken leaves AWS_SESSION_TOKEN out of the environment
	// (RestoreSource.SessionToken).
	noSessionToken bool
}

// Keys of the credentials Secret of an S3 location (credentialsSecretName),
// passed to pods as environment variables of the same names.
const (
	S3AccessKeyIDKey     = "AWS_ACCESS_KEY_ID"
	S3SecretAccessKeyKey = "AWS_SECRET_ACCESS_KEY"
	// S3SessionTokenKey is optional: temporary (STS) keys carry one.
	S3SessionTokenKey = "AWS_SESSION_TOKEN"
)

// S3TokenFile is where pods of a webIdentity location find their projected
// service account token ($AWS_WEB_IDENTITY_TOKEN_FILE).
const S3TokenFile = s3TokenDir + "/token"

// DefaultWebIdentityTokenSeconds is the life of the projected token of a
// webIdentity location when expirationSeconds is not set.
const DefaultWebIdentityTokenSeconds int64 = 3600

// S3ServiceAccount is the ServiceAccount the pods reaching s3 run as, and
// the field of the location that names it: webIdentity's, or
// instanceRole's when set; empty for static keys (and for an instanceRole
// without one: the namespace's default account). Pure.
func S3ServiceAccount(s3 *etcdv1.S3Location) (name, field string) {
	switch {
	case s3 == nil:
		return "", ""
	case s3.WebIdentity != nil:
		return s3.WebIdentity.ServiceAccountName, "webIdentity.serviceAccountName"
	case s3.InstanceRole != nil && s3.InstanceRole.ServiceAccountName != "":
		return s3.InstanceRole.ServiceAccountName, "instanceRole.serviceAccountName"
	}
	return "", ""
}

// addS3Credentials adds how a pod gets the credentials of s3: the keys of
// the Secret as environment (AWS_SESSION_TOKEN optional), or for
// webIdentity the service account, its token projected with the audience
// STS expects and the exchange's flags, or for instanceRole the optional
// service account and metadata endpoint.
func (st *storeAccess) addS3Credentials(s3 *etcdv1.S3Location) {
	env := func(name, value string) { st.env = append(st.env, corev1.EnvVar{Name: name, Value: value}) }
	switch {
	case s3.WebIdentity != nil:
		w := s3.WebIdentity
		st.serviceAccount, _ = S3ServiceAccount(s3)
		st.args = append(st.args, "--s3-credentials=web-identity")
		if w.STSEndpoint != "" {
			st.args = append(st.args, "--s3-sts-endpoint="+w.STSEndpoint)
		}
		env("AWS_WEB_IDENTITY_TOKEN_FILE", S3TokenFile)
		if w.RoleARN != "" {
			env("AWS_ROLE_ARN", w.RoleARN)
		}
		st.vols = append(st.vols, corev1.Volume{Name: "s3-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: ptr.To[int32](0o440),
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience:          or(w.Audience, etcdv1.DefaultWebIdentityAudience),
				ExpirationSeconds: ptr.To(ptr.Deref(w.ExpirationSeconds, DefaultWebIdentityTokenSeconds)),
				Path:              "token",
			}}},
		}}})
		st.mounts = append(st.mounts, corev1.VolumeMount{Name: "s3-token", MountPath: s3TokenDir, ReadOnly: true})
	case s3.InstanceRole != nil:
		st.serviceAccount, _ = S3ServiceAccount(s3)
		st.args = append(st.args, "--s3-credentials=instance-role")
		if e := s3.InstanceRole.Endpoint; e != "" {
			st.args = append(st.args, "--s3-iam-endpoint="+e)
		}
	default:
		keys := []string{S3AccessKeyIDKey, S3SecretAccessKeyKey, S3SessionTokenKey}
		if st.noSessionToken {
			keys = keys[:2]
		}
		for _, k := range keys {
			ref := &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: s3.CredentialsSecretName}, Key: k}
			if k == S3SessionTokenKey {
				ref.Optional = ptr.To(true)
			}
			st.env = append(st.env, corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: ref}})
		}
	}
}

func (st *storeAccess) addSecret(name, secret, dir string, items []corev1.KeyToPath) {
	st.vols = append(st.vols, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret, Items: items, DefaultMode: ptr.To[int32](0o440)}}})
	st.mounts = append(st.mounts, corev1.VolumeMount{Name: name, MountPath: dir, ReadOnly: true})
}

// addStore adds the flags, credentials and mounts of a location and of an
// optional encryption key.
func (st *storeAccess) addStore(loc etcdv1.BackupLocation, encryptionKey *corev1.SecretKeySelector) {
	if s3 := loc.S3; s3 != nil {
		st.args = append(st.args, "--s3-endpoint="+s3.Endpoint, "--bucket="+s3.Bucket)
		if s3.Insecure {
			st.args = append(st.args, "--s3-insecure")
		}
		if s3.Region != "" {
			st.args = append(st.args, "--s3-region="+s3.Region)
		}
		if s3.CA != nil {
			st.addSecret("s3-ca", s3.CA.Name, s3CADir, []corev1.KeyToPath{{Key: s3.CA.Key, Path: "ca.crt"}})
			st.args = append(st.args, "--s3-ca-file="+s3CADir+"/ca.crt")
		}
		st.addS3Credentials(s3)
	}
	if pvc := loc.PVC; pvc != nil {
		st.vols = append(st.vols, corev1.Volume{Name: "backup", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc.ClaimName}}})
		st.mounts = append(st.mounts, corev1.VolumeMount{Name: "backup", MountPath: backupDir})
		st.args = append(st.args, "--dir="+backupDir)
	}
	if encryptionKey != nil {
		st.addSecret("backup-key", encryptionKey.Name, encryptionKeyDir, []corev1.KeyToPath{{Key: encryptionKey.Key, Path: "key"}})
		st.args = append(st.args, "--encryption-key-file="+encryptionKeyDir+"/key")
	}
}

// jobLabels label the operator's Jobs and their pods: the cluster's
// instance and component, but not the name label that selects member pods,
// so that no Service, PDB or member listing ever counts a Job's pod.
func jobLabels(c *etcdv1.EtcdCluster, component string) map[string]string {
	return map[string]string{
		etcdv1.LabelInstance:  c.Name,
		etcdv1.LabelManagedBy: etcdv1.ManagedByValue,
		etcdv1.LabelComponent: component,
	}
}
