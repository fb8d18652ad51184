package etcdcluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func TestPasswordCandidates(t *testing.T) {
	cases := []struct {
		name    string
		desired string
		rec     passwordRecord
		source  []string
		want    []string
	}{
		{"nothing recorded", "new", passwordRecord{}, nil, []string{"new"}},
		{"steady state", "pw", passwordRecord{Password: "pw"}, nil, []string{"pw"}},
		{"secret changed: the applied one first", "new", passwordRecord{Password: "old"}, nil, []string{"old", "new"}},
		{"interrupted change: pending before desired", "newer", passwordRecord{Password: "old", Pending: "new"}, nil, []string{"old", "new", "newer"}},
		{"restore source last, no repeats", "mine", passwordRecord{}, []string{"src", "mine", "", "src"}, []string{"mine", "src"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := passwordCandidates(tc.desired, tc.rec, tc.source); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecideAuth(t *testing.T) {
	applied := passwordRecord{Password: "pw", ClusterID: "c1"}
	cases := []struct {
		name      string
		tls, on   bool
		used      string
		desired   string
		rec       passwordRecord
		clusterID string
		want      authAction
	}{
		{"auth off: enable", false, false, "pw", "pw", passwordRecord{}, "c1", authEnable},
		{"auth off with TLS: enable", true, false, "", "pw", applied, "c1", authEnable},
		{"tls, steady", true, true, "", "pw", applied, "c1", authNothing},
		{"tls, secret changed", true, true, "", "new", applied, "c1", authChangePassword},
		{"tls, restored (new cluster ID): reset through the certificate", true, true, "", "pw", applied, "c2", authChangePassword},
		{"tls, nothing recorded (restored into a new cluster)", true, true, "", "pw", passwordRecord{}, "c2", authChangePassword},
		{"no tls, steady", false, true, "pw", "pw", applied, "c1", authNothing},
		{"no tls, authenticated with the old password: change", false, true, "old", "new", passwordRecord{Password: "old", ClusterID: "c1"}, "c1", authChangePassword},
		{"no tls, authenticated with a restore source's password: change", false, true, "src", "mine", passwordRecord{}, "c9", authChangePassword},
		{"no tls, interrupted change already applied: record", false, true, "new", "new", passwordRecord{Password: "old", Pending: "new", ClusterID: "c1"}, "c1", authRecord},
		{"no tls, adopted secret on kept volumes, no record: record", false, true, "pw", "pw", passwordRecord{}, "c1", authRecord},
		{"no tls, in-place restore kept the password: record the new cluster ID", false, true, "pw", "pw", applied, "c2", authRecord},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideAuth(tc.tls, tc.on, tc.used, tc.desired, tc.rec, tc.clusterID); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAuthRejectedMessage(t *testing.T) {
	cause := errors.New("etcdserver: authentication failed, invalid user ID or password")
	err := &authRejectedError{secret: "db-root-password", tried: 3, restore: "prod", cause: cause}
	msg := err.Error()
	for _, want := range []string{"db-root-password", "2 other", "prod", "put that password into Secret db-root-password", "authentication failed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is not wrapped")
	}
}

func TestCredentialsSecretOwner(t *testing.T) {
	labels := map[string]string{etcdv1.LabelInstance: "db", etcdv1.LabelManagedBy: etcdv1.ManagedByValue}
	cases := []struct {
		name   string
		secret string
		labels map[string]string
		owned  bool
		want   int
	}{
		{"generated password, kept with the volumes", "db-root-password", labels, false, 1},
		{"the record", "db-root-password-applied", labels, false, 1},
		{"the JWT signing key, kept with the volumes", "db-auth-token-key", labels, false, 1},
		{"owned: Owns already maps it", "db-root-password", labels, true, 0},
		{"another secret of the cluster", "db-ca", labels, false, 0},
		{"not the operator's", "db-root-password", map[string]string{etcdv1.LabelInstance: "db"}, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: tc.secret, Namespace: "ns", Labels: tc.labels}}
			if tc.owned {
				s.OwnerReferences = []metav1.OwnerReference{{Kind: "EtcdCluster", Name: "db", UID: "u", Controller: ptr.To(true)}}
			}
			got := credentialsSecretOwner(context.Background(), s)
			if len(got) != tc.want || (tc.want == 1 && (got[0].Name != "db" || got[0].Namespace != "ns")) {
				t.Fatalf("got %v", got)
			}
		})
	}
}
