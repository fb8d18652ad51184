package v1alpha1

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMemberOrdinal(t *testing.T) {
	c := &EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db"}}
	for pod, want := range map[string]int{"db-0": 0, "db-9": 9, "db-10": 10} {
		if o, ok := c.MemberOrdinal(pod); !ok || o != want {
			t.Errorf("MemberOrdinal(%q) = %d, %t; want %d", pod, o, ok, want)
		}
	}
	for _, pod := range []string{"db", "db-", "db-01", "db--1", "db-x", "dbx-1", "other-1", "db-1-0"} {
		if o, ok := c.MemberOrdinal(pod); ok {
			t.Errorf("MemberOrdinal(%q) = %d, true; want false", pod, o)
		}
	}
}
