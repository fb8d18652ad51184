package render

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// PrometheusRuleGVK is the Prometheus Operator's PrometheusRule kind.
var PrometheusRuleGVK = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}

// AlertScope says which series the alert rules read.
type AlertScope struct {
	// Etcd: label matchers, comma-separated, for etcd's own metrics
	// (scraped through the cluster's PodMonitor, which adds etcd_cluster).
	Etcd string
	// Quorum: matchers for the operator's quorum_* metrics (labels
	// namespace, etcd_cluster: internal/opmetrics).
	Quorum string
	// Operator adds the group about the operator itself (reconcile
	// errors); a per-cluster rule leaves it out.
	Operator bool
}

// ChartAlertScope is the scope of the chart's PrometheusRule: every etcd
// scraped through a Quorum PodMonitor and every operator series.
var ChartAlertScope = AlertScope{Etcd: `etcd_cluster!=""`, Operator: true}

// ClusterAlertScope is the scope of one EtcdCluster's own PrometheusRule.
func ClusterAlertScope(c *etcdv1.EtcdCluster) AlertScope {
	sel := fmt.Sprintf(`namespace=%q,etcd_cluster=%q`, c.Namespace, c.Name)
	return AlertScope{Etcd: sel, Quorum: sel}
}

// AlertRules renders the Prometheus rule file (a "groups:" document, the
// format of promtool and of a PrometheusRule's spec) for scope.
// Thresholds follow etcd's operations guide and the etcd-mixin: fsync p99
// over 0.5 s, backend commit p99 over 0.25 s, database over 80% of its
// quota. The chart's copy is files/alerts.yaml (hack/sync-chart.sh);
// test/monitoring fires each alert with promtool.
func AlertRules(scope AlertScope) string {
	var b bytes.Buffer
	if err := alertTemplate.Execute(&b, scope); err != nil {
		// The template and its input are fixed: a failure is a bug.
		panic(fmt.Sprintf("rendering alert rules: %v", err))
	}
	return b.String()
}

// PrometheusRule is the cluster's own alert rules, when
// spec.monitoring.prometheusRule is set. Unstructured, as PodMonitor.
func PrometheusRule(c *etcdv1.EtcdCluster) (*unstructured.Unstructured, error) {
	spec := map[string]any{}
	if err := yaml.Unmarshal([]byte(AlertRules(ClusterAlertScope(c))), &spec); err != nil {
		return nil, fmt.Errorf("parsing rendered alert rules: %w", err)
	}
	labels := map[string]any{}
	for k, v := range c.Spec.Monitoring.Labels {
		labels[k] = v
	}
	for k, v := range c.Labels() {
		labels[k] = v
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": c.Name, "namespace": c.Namespace, "labels": labels},
		"spec":     spec,
	}}
	u.SetGroupVersionKind(PrometheusRuleGVK)
	return u, nil
}

// sel joins matchers into a selector: `{a,b}`, or nothing when all are
// empty.
func sel(matchers ...string) string {
	var m []string
	for _, s := range matchers {
		if s != "" {
			m = append(m, s)
		}
	}
	if len(m) == 0 {
		return ""
	}
	return "{" + strings.Join(m, ",") + "}"
}

var alertTemplate = template.Must(template.New("alerts").Funcs(template.FuncMap{"sel": sel}).Parse(alertsYAML))

// alertsYAML: {{sel .Etcd}} selects etcd's series, {{sel .Quorum}} the
// operator's. Every alert has severity (critical: the cluster loses or
// may lose data or availability; warning: act within hours) and a summary
// and description naming the cluster.
const alertsYAML = `groups:
- name: quorum-etcd
  rules:
  - alert: EtcdNoLeader
    expr: etcd_server_has_leader{{sel .Etcd}} == 0
    for: 1m
    labels:
      severity: critical
    annotations:
      summary: etcd member has no leader
      description: 'Member {{"{{ $labels.pod }}"}} of EtcdCluster {{"{{ $labels.namespace }}/{{ $labels.etcd_cluster }}"}} has had no raft leader for a minute: the cluster cannot serve writes.'
  - alert: EtcdFrequentLeaderChanges
    expr: max by (namespace, etcd_cluster) (increase(etcd_server_leader_changes_seen_total{{sel .Etcd}}[15m])) >= 3
    for: 5m
    labels:
      severity: warning
    annotations:
      summary: etcd leader changes often
      description: 'EtcdCluster {{"{{ $labels.namespace }}/{{ $labels.etcd_cluster }}"}} saw {{"{{ $value | humanize }}"}} leader changes in 15 minutes: a slow disk, an overloaded node or a flapping network.'
  - alert: EtcdMembersDown
    expr: quorum_etcdcluster_desired_members{{sel .Quorum}} - quorum_etcdcluster_healthy_members{{sel .Quorum}} > 0
    for: 5m
    labels:
      severity: warning
    annotations:
      summary: etcd members are down
      description: '{{"{{ $value }}"}} member(s) of EtcdCluster {{"{{ $labels.namespace }}/{{ $labels.etcd_cluster }}"}} did not answer the operator for 5 minutes.'
  - alert: EtcdInsufficientMembers
    expr: quorum_etcdcluster_healthy_members{{sel .Quorum}} < on (namespace, etcd_cluster) floor(quorum_etcdcluster_desired_members{{sel .Quorum}} / 2) + 1
    for: 3m
    labels:
      severity: critical
    annotations:
      summary: etcd cluster lost quorum
      description: 'Only {{"{{ $value }}"}} member(s) of EtcdCluster {{"{{ $labels.namespace }}/{{ $labels.etcd_cluster }}"}} answer, fewer than a quorum: the cluster cannot serve writes.'
  - alert: EtcdHighFsyncDurations
    expr: histogram_quantile(0.99, sum by (namespace, etcd_cluster, pod, le) (rate(etcd_disk_wal_fsync_duration_seconds_bucket{{sel .Etcd}}[5m]))) > 0.5
    for: 10m
    labels:
      severity: warning
    annotations:
      summary: etcd WAL fsync is slow
      description: 'The 99th percentile of WAL fsync on member {{"{{ $labels.pod }}"}} of EtcdCluster {{"{{ $labels.namespace }}/{{ $labels.etcd_cluster }}"}} is {{"{{ $value | humanizeDuration }}"}} (over 0.5 s): the disk is too slow for etcd.'
  - alert: EtcdHighCommitDurations
    expr: histogram_quantile(0.99, sum by (namespace, etcd_cluster, pod, le) (rate(etcd_disk_backend_commit_duration_seconds_bucket{{sel .Etcd}}[5m]))) > 0.25
    for: 10m
    labels:
      severity: warning
    annotations:
      summary: etcd backend commit is slow
      description: 'The 99th percentile of backend commits on member {{"{{ $labels.pod }}"}} of EtcdCluster {{"{{ $labels.namespace }}/{{ $labels.etcd_cluster }}"}} is {{"{{ $value | humanizeDuration }}"}} (over 0.25 s): the disk is too slow for etcd.'
  - alert: EtcdDatabaseNearQuota
    expr: etcd_mvcc_db_total_size_in_bytes{{sel .Etcd}} / etcd_server_quota_backend_bytes{{sel .Etcd}} > 0.8
    for: 10m
    labels:
      severity: warning
    annotations:
      summary: etcd database is near its quota
      description: 'The database of member {{"{{ $labels.pod }}"}} of EtcdCluster {{"{{ $labels.namespace }}/{{ $labels.etcd_cluster }}"}} uses {{"{{ $value | humanizePercentage }}"}} of its quota; at 100% etcd raises NOSPACE and refuses writes. Compact and defragment, or raise spec.quota.backendBytes (unset, the quota is derived from spec.storage.size: grow that).'
  - alert: EtcdNoSpaceAlarm
    expr: quorum_etcdcluster_member_alarm{{sel .Quorum "alarm=\"NOSPACE\""}} == 1
    labels:
      severity: critical
    annotations:
      summary: etcd NOSPACE alarm raised
      description: 'Member {{"{{ $labels.member }}"}} of EtcdCluster {{"{{ $labels.namespace }}/{{ $labels.etcd_cluster }}"}} raised NOSPACE: the cluster refuses writes until space is freed and the alarm disarmed.'
  - alert: EtcdCorruptAlarm
    expr: quorum_etcdcluster_member_alarm{{sel .Quorum "alarm=\"CORRUPT\""}} == 1
    labels:
      severity: critical
    annotations:
      summary: etcd CORRUPT alarm raised
      description: 'Member {{"{{ $labels.member }}"}} of EtcdCluster {{"{{ $labels.namespace }}/{{ $labels.etcd_cluster }}"}} raised CORRUPT: its data differs from the others; the cluster refuses writes.'
  - alert: EtcdBackupTooOld
    expr: |-
      (time() - quorum_etcdbackupschedule_last_success_timestamp_seconds{{sel .Quorum}} > 1.5 * quorum_etcdbackupschedule_interval_seconds{{sel .Quorum}})
      or
      ((time() - quorum_etcdbackupschedule_created_timestamp_seconds{{sel .Quorum}} > 1.5 * quorum_etcdbackupschedule_interval_seconds{{sel .Quorum}})
        unless on (namespace, etcd_cluster, schedule) quorum_etcdbackupschedule_last_success_timestamp_seconds{{sel .Quorum}})
    labels:
      severity: warning
    annotations:
      summary: etcd backups are late
      description: 'The last successful backup of EtcdBackupSchedule {{"{{ $labels.namespace }}/{{ $labels.schedule }}"}} (EtcdCluster {{"{{ $labels.etcd_cluster }}"}}) is {{"{{ $value | humanizeDuration }}"}} old, over 1.5 times its schedule''s interval (or none succeeded since it was created). See its EtcdBackups'' Failed conditions.'
  - alert: EtcdCertificateExpiresSoon
    expr: quorum_etcdcluster_certificate_expiry_timestamp_seconds{{sel .Quorum}} - time() < 7 * 86400
    labels:
      severity: warning
    annotations:
      summary: etcd certificate expires within a week
      description: 'A certificate in {{"{{ $labels.key }}"}} of Secret {{"{{ $labels.namespace }}/{{ $labels.secret }}"}} of EtcdCluster {{"{{ $labels.etcd_cluster }}"}} expires in {{"{{ $value | humanizeDuration }}"}}; the operator renews its own certificates earlier, so renewal is failing or the certificates are the user''s (the CertificatesExpiring condition names them).'
  - alert: EtcdCertificateExpiresVerySoon
    expr: quorum_etcdcluster_certificate_expiry_timestamp_seconds{{sel .Quorum}} - time() < 86400
    labels:
      severity: critical
    annotations:
      summary: etcd certificate expires within a day
      description: 'A certificate in {{"{{ $labels.key }}"}} of Secret {{"{{ $labels.namespace }}/{{ $labels.secret }}"}} of EtcdCluster {{"{{ $labels.etcd_cluster }}"}} expires in {{"{{ $value | humanizeDuration }}"}}: members and clients will fail TLS handshakes.'
{{- if .Operator}}
- name: quorum-operator
  rules:
  - alert: QuorumOperatorReconcileErrors
    expr: sum by (controller) (increase(controller_runtime_reconcile_errors_total{controller=~"etcdcluster|etcdbackup|etcdbackupschedule|etcdrestore|etcduser"}[15m])) > 5
    for: 15m
    labels:
      severity: warning
    annotations:
      summary: Quorum operator reconcile errors
      description: 'The {{"{{ $labels.controller }}"}} controller of the Quorum operator failed {{"{{ $value | humanize }}"}} reconciles in 15 minutes; see the operator''s log and the resources'' conditions.'
{{- end}}
`
