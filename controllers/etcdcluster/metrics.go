package etcdcluster

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// memberHealth is the number of members that answered the last status
// round. Reconcile counts, errors and durations come from controller-runtime.
var memberHealth = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "quorum_etcdcluster_healthy_members",
	Help: "Members of the EtcdCluster that answered the operator's last status request.",
}, []string{"namespace", "name"})

func init() {
	metrics.Registry.MustRegister(memberHealth)
}

// memberAlarm is 1 while etcd alarm "alarm" (NOSPACE, CORRUPT) is raised
// for the member, else 0.
var memberAlarm = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "quorum_etcdcluster_member_alarm",
	Help: "1 while the etcd alarm is raised for the member of the EtcdCluster, else 0.",
}, []string{"namespace", "name", "member", "alarm"})

func init() {
	metrics.Registry.MustRegister(memberAlarm)
}
