package etcdcluster

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
	"quorum.dev/etcd-operator/internal/opmetrics"
)

// memberHealth and memberAlarm are the gauges this package sets most;
// the metrics are declared in internal/opmetrics. Reconcile counts, errors
// and durations come from controller-runtime.
var (
	memberHealth = opmetrics.HealthyMembers
	memberAlarm  = opmetrics.MemberAlarm
)

// memberRoleUnknown is the role of a member that did not answer.
const memberRoleUnknown = "Unknown"

// memberCounts counts members by role and health: "role/healthy" → count.
// Every role and health is present, with 0, so a series drops to 0 instead
// of going stale.
func memberCounts(members []etcdv1.MemberStatus) map[[2]string]int {
	counts := map[[2]string]int{}
	for _, role := range []string{string(etcdv1.RoleLeader), string(etcdv1.RoleFollower), string(etcdv1.RoleLearner), memberRoleUnknown} {
		for _, h := range []bool{true, false} {
			counts[[2]string{role, strconv.FormatBool(h)}] = 0
		}
	}
	for _, m := range members {
		role := string(m.Role)
		if role == "" {
			role = memberRoleUnknown
		}
		counts[[2]string{role, strconv.FormatBool(m.Healthy)}]++
	}
	return counts
}

// recordClusterMetrics exports what the status says: desired members,
// members by role and health, and the operation in progress (the
// Progressing condition's reason while it is True).
func recordClusterMetrics(c *etcdv1.EtcdCluster) {
	opmetrics.DesiredMembers.WithLabelValues(c.Namespace, c.Name).Set(float64(c.DesiredReplicas()))
	for k, n := range memberCounts(c.Status.Members) {
		opmetrics.Members.WithLabelValues(c.Namespace, c.Name, k[0], k[1]).Set(float64(n))
	}
	opmetrics.OperationInProgress.DeletePartialMatch(map[string]string{opmetrics.LabelNamespace: c.Namespace, opmetrics.LabelEtcdCluster: c.Name})
	if p := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionProgressing); p != nil && p.Status == "True" {
		opmetrics.OperationInProgress.WithLabelValues(c.Namespace, c.Name, p.Reason).Set(1)
	}
}

// forgetClusterMetrics drops every series of a deleted cluster.
func forgetClusterMetrics(key types.NamespacedName) {
	opmetrics.ForgetCluster(key.Namespace, key.Name)
}

// recordCertificateExpiry exports, per key of a TLS Secret of the cluster
// (tls.crt, ca.crt), the soonest notAfter of the certificates it holds; a
// key without a readable certificate exports nothing (the certificate
// checks report it).
func recordCertificateExpiry(c *etcdv1.EtcdCluster, s *corev1.Secret) {
	for _, key := range []string{corev1.TLSCertKey, keyCACert} {
		certs, err := pki.ParseBundle(s.Data[key])
		if err != nil {
			continue
		}
		soonest := certs[0].NotAfter
		for _, cert := range certs[1:] {
			if cert.NotAfter.Before(soonest) {
				soonest = cert.NotAfter
			}
		}
		opmetrics.CertificateExpiry.WithLabelValues(c.Namespace, c.Name, s.Name, key).Set(float64(soonest.Unix()))
	}
}

// pruneCertificateExpiry drops the expiry series of the Secrets of c in
// before (what it depended on last pass) that are not in keep: Secrets the
// cluster no longer depends on after a switch of certificate sources (or
// a change of spec.tls's names) would otherwise export a frozen expiry,
// and alert on it, until the cluster is deleted.
func pruneCertificateExpiry(c *etcdv1.EtcdCluster, before, keep map[string]bool) {
	for name := range before {
		if !keep[name] {
			opmetrics.CertificateExpiry.DeletePartialMatch(prometheus.Labels{
				opmetrics.LabelNamespace: c.Namespace, opmetrics.LabelEtcdCluster: c.Name, "secret": name})
		}
	}
}
