// Package opmetrics declares the operator's own Prometheus metrics, all in
// one place, registered on controller-runtime's registry (served with the
// reconcile, work queue and client metrics at the manager's /metrics).
// Reconcilers set them; the alert rules (controllers/render/alerts.go) and
// the chart's Grafana dashboard read them, and test/monitoring checks
// every name those use against Names.
//
// Every series of an EtcdCluster carries the labels namespace and
// etcd_cluster (the EtcdCluster's name), the labels the PodMonitor gives
// etcd's own metrics, so one selector picks a cluster in both.
package opmetrics

import (
	"regexp"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Label names.
const (
	LabelNamespace   = "namespace"
	LabelEtcdCluster = "etcd_cluster"
)

var (
	// HealthyMembers: members that answered the operator's last status
	// request.
	HealthyMembers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "quorum_etcdcluster_healthy_members",
		Help: "Members of the EtcdCluster that answered the operator's last status request.",
	}, []string{LabelNamespace, LabelEtcdCluster})

	// DesiredMembers: spec.replicas.
	DesiredMembers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "quorum_etcdcluster_desired_members",
		Help: "Members the EtcdCluster asks for (spec.replicas).",
	}, []string{LabelNamespace, LabelEtcdCluster})

	// Members counts status.members by role (Leader, Follower, Learner,
	// or Unknown when the member did not answer) and health (true/false).
	Members = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "quorum_etcdcluster_members",
		Help: "Members of the EtcdCluster by raft role (Leader, Follower, Learner, Unknown) and health (true, false), from status.members.",
	}, []string{LabelNamespace, LabelEtcdCluster, "role", "healthy"})

	// MemberAlarm is 1 while etcd alarm "alarm" (NOSPACE, CORRUPT) is
	// raised for the member, else 0.
	MemberAlarm = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "quorum_etcdcluster_member_alarm",
		Help: "1 while the etcd alarm is raised for the member of the EtcdCluster, else 0.",
	}, []string{LabelNamespace, LabelEtcdCluster, "member", "alarm"})

	// OperationInProgress is 1 for the operation the operator is carrying
	// out on the cluster: the reason of the Progressing condition while it
	// is True (ScalingUp, RollingOut, Restoring...). No series when idle.
	OperationInProgress = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "quorum_etcdcluster_operation_in_progress",
		Help: "1 for the operation in progress on the EtcdCluster (the Progressing condition's reason); no series when none is.",
	}, []string{LabelNamespace, LabelEtcdCluster, "operation"})

	// CertificateExpiry is the notAfter, in Unix seconds, of the
	// certificates in each TLS Secret of the cluster (the operator's CA
	// and leaves, or the user's spec.tls Secrets), per key: "tls.crt"
	// (the leaf, or the CA itself in the CA Secret, and any intermediate)
	// and "ca.crt" (the trusted CAs). A key holding several certificates
	// exports the soonest notAfter.
	CertificateExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "quorum_etcdcluster_certificate_expiry_timestamp_seconds",
		Help: "Unix time at which the first certificate of the key (tls.crt, ca.crt) of the EtcdCluster's TLS Secret expires (notAfter).",
	}, []string{LabelNamespace, LabelEtcdCluster, "secret", "key"})

	// BackupScheduleLastSuccess is status.lastSuccessfulTime of an
	// EtcdBackupSchedule, Unix seconds; no series before the first success.
	BackupScheduleLastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "quorum_etcdbackupschedule_last_success_timestamp_seconds",
		Help: "Unix time at which the newest succeeded backup of the EtcdBackupSchedule completed; absent before the first.",
	}, []string{LabelNamespace, LabelEtcdCluster, "schedule"})

	// BackupScheduleInterval is the time between the schedule's next two
	// slots, seconds: how often it backs up. Absent while suspended.
	BackupScheduleInterval = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "quorum_etcdbackupschedule_interval_seconds",
		Help: "Seconds between the EtcdBackupSchedule's next two slots; absent while suspended or invalid.",
	}, []string{LabelNamespace, LabelEtcdCluster, "schedule"})

	// BackupScheduleCreated is the schedule's creationTimestamp, Unix
	// seconds: the age a schedule with no success yet is judged by.
	BackupScheduleCreated = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "quorum_etcdbackupschedule_created_timestamp_seconds",
		Help: "Unix time at which the EtcdBackupSchedule was created.",
	}, []string{LabelNamespace, LabelEtcdCluster, "schedule"})

	// BackupsFinished counts EtcdBackups reaching Succeeded or Failed, by
	// result, counted once by the pass that stores the result.
	BackupsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quorum_etcdbackup_finished_total",
		Help: "EtcdBackups of the EtcdCluster that finished, by result (Succeeded, Failed).",
	}, []string{LabelNamespace, LabelEtcdCluster, "result"})
)

// collectors is every metric of this package, registered once.
var collectors = []prometheus.Collector{
	HealthyMembers, DesiredMembers, Members, MemberAlarm, OperationInProgress,
	CertificateExpiry, BackupScheduleLastSuccess, BackupScheduleInterval,
	BackupScheduleCreated, BackupsFinished,
}

func init() {
	metrics.Registry.MustRegister(collectors...)
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Names lists the metric names of this package as Prometheus stores them
// (a counter's name as declared, with _total), sorted, read from the
// collectors' descriptors.
func Names() []string {
	ch := make(chan *prometheus.Desc, len(collectors))
	for _, c := range collectors {
		c.Describe(ch)
	}
	close(ch)
	var names []string
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	sort.Strings(names)
	return names
}

// ForgetCluster deletes every series of the EtcdCluster namespace/name
// (the cluster is gone).
func ForgetCluster(namespace, name string) {
	l := prometheus.Labels{LabelNamespace: namespace, LabelEtcdCluster: name}
	for _, v := range []*prometheus.GaugeVec{HealthyMembers, DesiredMembers, Members, MemberAlarm, OperationInProgress, CertificateExpiry} {
		v.DeletePartialMatch(l)
	}
	BackupsFinished.DeletePartialMatch(l)
}

// ForgetSchedule deletes the series of the EtcdBackupSchedule
// namespace/name.
func ForgetSchedule(namespace, name string) {
	l := prometheus.Labels{LabelNamespace: namespace, "schedule": name}
	for _, v := range []*prometheus.GaugeVec{BackupScheduleLastSuccess, BackupScheduleInterval, BackupScheduleCreated} {
		v.DeletePartialMatch(l)
	}
}
