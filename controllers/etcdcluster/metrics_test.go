package etcdcluster

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
	"quorum.dev/etcd-operator/internal/opmetrics"
)

func TestMemberCounts(t *testing.T) {
	cases := []struct {
		name    string
		members []etcdv1.MemberStatus
		want    map[[2]string]int // the non-zero counts
	}{
		{"none", nil, map[[2]string]int{}},
		{"healthy three", []etcdv1.MemberStatus{
			{Name: "a-0", Role: etcdv1.RoleLeader, Healthy: true},
			{Name: "a-1", Role: etcdv1.RoleFollower, Healthy: true},
			{Name: "a-2", Role: etcdv1.RoleFollower, Healthy: true},
		}, map[[2]string]int{{"Leader", "true"}: 1, {"Follower", "true"}: 2}},
		{"one silent, one learner", []etcdv1.MemberStatus{
			{Name: "a-0", Role: etcdv1.RoleLeader, Healthy: true},
			{Name: "a-1", Healthy: false},
			{Name: "a-2", Role: etcdv1.RoleLearner, Healthy: true},
			{Name: "a-3", Role: etcdv1.RoleFollower, Healthy: false},
		}, map[[2]string]int{{"Leader", "true"}: 1, {"Unknown", "false"}: 1, {"Learner", "true"}: 1, {"Follower", "false"}: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := memberCounts(tc.members)
			// Every role and health has a count, so series drop to 0.
			if len(got) != 8 {
				t.Errorf("%d counts, want 8 (4 roles x 2 healths): %v", len(got), got)
			}
			for k, n := range got {
				if n != tc.want[k] {
					t.Errorf("%v: %d, want %d", k, n, tc.want[k])
				}
			}
		})
	}
}

func TestRecordClusterMetrics(t *testing.T) {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "m", Namespace: "metrics-test"},
		Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
	c.Status.Members = []etcdv1.MemberStatus{{Name: "m-0", Role: etcdv1.RoleLeader, Healthy: true}, {Name: "m-1"}}
	c.Status.Conditions = []metav1.Condition{{Type: etcdv1.ConditionProgressing, Status: metav1.ConditionTrue, Reason: etcdv1.ReasonRollingOut}}
	recordClusterMetrics(c)
	if v := testutil.ToFloat64(opmetrics.DesiredMembers.WithLabelValues("metrics-test", "m")); v != 3 {
		t.Errorf("desired members %v, want 3", v)
	}
	if v := testutil.ToFloat64(opmetrics.Members.WithLabelValues("metrics-test", "m", "Unknown", "false")); v != 1 {
		t.Errorf("unknown unhealthy members %v, want 1", v)
	}
	if v := testutil.ToFloat64(opmetrics.OperationInProgress.WithLabelValues("metrics-test", "m", etcdv1.ReasonRollingOut)); v != 1 {
		t.Errorf("operation in progress %v, want 1", v)
	}
	// Idle: the operation's series goes.
	c.Status.Conditions[0].Status = metav1.ConditionFalse
	recordClusterMetrics(c)
	if opmetrics.OperationInProgress.DeleteLabelValues("metrics-test", "m", etcdv1.ReasonRollingOut) {
		t.Error("the operation's series stayed after Progressing turned False")
	}

	ca, err := pki.NewCA("test", time.Unix(1_700_000_000, 0), 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A user's Secret: the leaf in tls.crt, two CAs in ca.crt (the
	// soonest counts).
	other, err := pki.NewCA("other", time.Unix(1_700_000_000, 0), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.Issue(ca, pki.LeafRequest{CommonName: "m-server", Server: true}, time.Unix(1_700_000_000, 0), 12*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	recordCertificateExpiry(c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "srv"},
		Data: map[string][]byte{corev1.TLSCertKey: leaf.CertPEM, keyCACert: append(append([]byte{}, ca.CertPEM...), other.CertPEM...)}})
	for key, want := range map[string]float64{corev1.TLSCertKey: 1_700_000_000 + 12*3600, keyCACert: 1_700_000_000 + 24*3600} {
		if v := testutil.ToFloat64(opmetrics.CertificateExpiry.WithLabelValues("metrics-test", "m", "srv", key)); v != want {
			t.Errorf("srv %s expiry %v, want %v", key, v, want)
		}
	}
	recordCertificateExpiry(c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "m-ca"}, Data: map[string][]byte{corev1.TLSCertKey: ca.CertPEM}})
	if v := testutil.ToFloat64(opmetrics.CertificateExpiry.WithLabelValues("metrics-test", "m", "m-ca", corev1.TLSCertKey)); v != 1_700_000_000+48*3600 {
		t.Errorf("certificate expiry %v, want %v", v, 1_700_000_000+48*3600)
	}
	if opmetrics.CertificateExpiry.DeleteLabelValues("metrics-test", "m", "m-ca", keyCACert) {
		t.Error("a Secret without ca.crt exported its expiry")
	}
	// Unreadable: nothing exported.
	recordCertificateExpiry(c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "m-bad"}, Data: map[string][]byte{corev1.TLSCertKey: []byte("junk")}})
	if opmetrics.CertificateExpiry.DeleteLabelValues("metrics-test", "m", "m-bad", corev1.TLSCertKey) {
		t.Error("an unreadable certificate exported an expiry")
	}

	forgetClusterMetrics(types.NamespacedName{Namespace: "metrics-test", Name: "m"})
	if opmetrics.DesiredMembers.DeleteLabelValues("metrics-test", "m") || opmetrics.CertificateExpiry.DeleteLabelValues("metrics-test", "m", "m-ca", corev1.TLSCertKey) ||
		opmetrics.CertificateExpiry.DeleteLabelValues("metrics-test", "m", "srv", keyCACert) {
		t.Error("a deleted cluster's series stayed")
	}
}

// Series of Secrets the cluster no longer depends on are dropped; those of
// other clusters and the kept ones stay.
func TestPruneCertificateExpiry(t *testing.T) {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "prune-test", Name: "p"}}
	other := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "prune-test", Name: "q"}}
	for _, n := range []string{"p-server-tls", "user-server"} {
		opmetrics.CertificateExpiry.WithLabelValues(c.Namespace, c.Name, n, "tls.crt").Set(1)
	}
	opmetrics.CertificateExpiry.WithLabelValues(other.Namespace, other.Name, "user-server", "tls.crt").Set(1)
	pruneCertificateExpiry(c, map[string]bool{"p-server-tls": true, "user-server": true}, map[string]bool{"p-server-tls": true})
	count := func(cl *etcdv1.EtcdCluster, secret string) int {
		n := 0
		for _, l := range []string{"tls.crt"} {
			if testutil.ToFloat64(opmetrics.CertificateExpiry.WithLabelValues(cl.Namespace, cl.Name, secret, l)) == 1 {
				n++
			}
		}
		return n
	}
	if count(c, "p-server-tls") != 1 || count(other, "user-server") != 1 {
		t.Error("a kept series or another cluster's series was dropped")
	}
	// WithLabelValues above recreated the pruned series at 0 when asked:
	// a pruned series reads 0, a kept one 1.
	if count(c, "user-server") != 0 {
		t.Error("the series of a Secret the cluster no longer uses was kept")
	}
}
