package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Keys of the cluster ConfigMap and of the options ConfigMaps.
const (
	// ConfigKeyOptions is the etcd config-file fragment of spec options,
	// in the options ConfigMap of its revision (OptionsConfigMap).
	ConfigKeyOptions = "etcd.yaml"
	// ConfigKeyInitialCluster is the name=peerURL list a new cluster starts with.
	ConfigKeyInitialCluster = "initial-cluster"
	// ConfigKeyInitialState is "new" until the cluster has formed, then
	// "existing" for good.
	ConfigKeyInitialState = "initial-cluster-state"
	// ConfigKeyRestoreID names the in-place restore in progress, empty
	// when there is none: a member's restore init container acts only
	// while it names its restore.
	ConfigKeyRestoreID = "restore-id"
	// ConfigKeyForceNewCluster is "<member>/<restore ID>" during a
	// fromSurvivor recovery: that member starts once with etcd's
	// --force-new-cluster.
	ConfigKeyForceNewCluster = "force-new-cluster"
)

// Bootstrap states written to ConfigKeyInitialState.
const (
	StateNew      = "new"
	StateExisting = "existing"
)

// EtcdOptions renders the etcd config-file fragment: quota, compaction and
// the user's etcdOptions, one "key: value" line each, sorted. The quota is
// spec.quota.backendBytes or, unset, derived from the volume size
// (etcdv1.QuotaBackendBytes of c.QuotaVolume(): the size every member
// claim really has). A value is written bare only where etcd reads
// a boolean or a number (the quota, and options of those kinds); every
// other value is quoted, so that YAML never turns a string option such as
// a revision-count compaction retention ("1000") into a number etcd
// refuses.
func EtcdOptions(c *etcdv1.EtcdCluster) string {
	opts := map[string]string{}
	for k, v := range c.Spec.EtcdOptions {
		opts[k] = v
	}
	opts["quota-backend-bytes"] = fmt.Sprint(etcdv1.QuotaBackendBytes(c.Spec.Quota.BackendBytes, c.QuotaVolume()))
	mode, retention := c.Spec.Compaction.Mode, c.Spec.Compaction.Retention
	if mode == "" {
		mode = "periodic"
	}
	if retention == "" {
		retention = "1h"
	}
	opts["auto-compaction-mode"] = mode
	opts["auto-compaction-retention"] = retention

	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, yamlScalar(k, opts[k]))
	}
	return b.String()
}

// yamlScalar writes v bare when etcd reads key as a boolean or a number and
// v has that shape (admission ensures it for etcdOptions), else quoted.
func yamlScalar(key, v string) string {
	switch {
	case etcdv1.EtcdOptionIsBool(key) && (v == "true" || v == "false"):
		return v
	case (key == "quota-backend-bytes" || etcdv1.EtcdOptionIsNumber(key)) && isNumber(v):
		return v
	}
	return fmt.Sprintf("%q", v)
}

func isNumber(v string) bool {
	if v == "" || len(v) > 18 {
		return false
	}
	// "010" is octal to a YAML reader: only canonical integers go bare.
	if d := strings.TrimPrefix(v, "-"); len(d) > 1 && d[0] == '0' {
		return false
	}
	for i, r := range v {
		if r == '-' && i == 0 && len(v) > 1 {
			continue
		}
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// InitialCluster is the name=peerURL list of the first replicas members.
func InitialCluster(c *etcdv1.EtcdCluster, replicas int32, domain string) string {
	parts := make([]string, 0, replicas)
	for i := 0; i < int(replicas); i++ {
		parts = append(parts, c.MemberName(i)+"="+c.MemberPeerURL(i, domain))
	}
	return strings.Join(parts, ",")
}

// ConfigMap holds the bootstrap information. The bootstrap keys are read by
// members through environment variables, so changing them never restarts a
// running pod.
//
// legacyOptions, when not empty, is kept as its ConfigKeyOptions: member
// pods made by an operator version that kept the options file here still
// mount it, and must find the options they started with (the caller passes
// what the key holds now, never the spec's options).
func ConfigMap(c *etcdv1.EtcdCluster, o Options, b Bootstrap, legacyOptions string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: objectMeta(c, c.ConfigMapName(), "config"),
		Data: map[string]string{
			ConfigKeyInitialCluster:  b.InitialCluster,
			ConfigKeyInitialState:    b.State,
			ConfigKeyRestoreID:       b.RestoreID,
			ConfigKeyForceNewCluster: b.ForceNewCluster,
		},
	}
	if legacyOptions != "" {
		cm.Data[ConfigKeyOptions] = legacyOptions
	}
	return cm
}

// Bootstrap is what the cluster ConfigMap tells members about how the
// cluster starts: StateNew or StateExisting, the initial members, and the
// in-place restore in progress, if any.
type Bootstrap struct {
	State          string
	InitialCluster string
	RestoreID      string
	// ForceNewCluster is "<member>/<restore ID>" or empty.
	ForceNewCluster string
}

// Hash is a short digest used to roll pods when their configuration changes.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}
