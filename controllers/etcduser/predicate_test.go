package etcduser

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func TestClusterChanged(t *testing.T) {
	cluster := func(gen int64, available bool, mut func(*etcdv1.EtcdCluster)) *etcdv1.EtcdCluster {
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Generation: gen}}
		s := metav1.ConditionFalse
		if available {
			s = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: etcdv1.ConditionAvailable, Status: s, Reason: "r"})
		if mut != nil {
			mut(c)
		}
		return c
	}
	now := metav1.Now()
	for _, tc := range []struct {
		name     string
		old, new *etcdv1.EtcdCluster
		want     bool
	}{
		{"member status only", cluster(1, true, nil), cluster(1, true, func(c *etcdv1.EtcdCluster) { c.Status.ReadyReplicas = 3 }), false},
		{"becomes Available", cluster(1, false, nil), cluster(1, true, nil), true},
		{"loses Available", cluster(1, true, nil), cluster(1, false, nil), true},
		{"spec change", cluster(1, true, nil), cluster(2, true, nil), true},
		{"being deleted", cluster(1, true, nil), cluster(1, true, func(c *etcdv1.EtcdCluster) { c.DeletionTimestamp = &now }), true},
	} {
		if got := clusterChanged.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
