package monitoring

import (
	"reflect"
	"testing"
)

func TestMetricNames(t *testing.T) {
	cases := []struct {
		query string
		want  []string
	}{
		{`etcd_server_has_leader{etcd_cluster!=""} == 0`, []string{"etcd_server_has_leader"}},
		{`max by (namespace, etcd_cluster) (increase(etcd_server_leader_changes_seen_total{a="b"}[15m])) >= 3`, []string{"etcd_server_leader_changes_seen_total"}},
		{`histogram_quantile(0.99, sum by (pod, le) (rate(etcd_disk_wal_fsync_duration_seconds_bucket{namespace="$namespace"}[$__rate_interval])))`, []string{"etcd_disk_wal_fsync_duration_seconds_bucket"}},
		{`a_total - b < on (namespace, etcd_cluster) floor(c / 2) + 1`, []string{"a_total", "b", "c"}},
		{"(time() - x > 1.5 * y)\nor\n((time() - z > 1.5 * y) unless on (namespace, schedule) x)", []string{"x", "y", "z"}},
		{`label_values(quorum_etcdcluster_desired_members{namespace="$namespace"}, etcd_cluster)`, []string{"quorum_etcdcluster_desired_members"}},
		{`label_values(quorum_etcdcluster_desired_members, namespace)`, []string{"quorum_etcdcluster_desired_members"}},
		{`sum by (grpc_method) (rate(grpc_server_handled_total{grpc_code!="OK", x=~"a|b"}[5m])) * 86400 - time()`, []string{"grpc_server_handled_total"}},
		{`sum without (pod) (m offset 5m) and bool n`, []string{"m", "n"}},
	}
	for _, tc := range cases {
		if got := metricNames(tc.query); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("metricNames(%q) = %v, want %v", tc.query, got, tc.want)
		}
	}
}
