package render

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// TestRestoreSkipHashCheck: spec skipHashCheck reaches every command that
// reads the snapshot (the bootstrap and in-place init containers and the
// verification Job), and only when set.
func TestRestoreSkipHashCheck(t *testing.T) {
	loc := etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "snaps"}}
	x := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"}}
	for _, c := range []struct {
		name string
		src  RestoreSource
		want bool
	}{
		{"bootstrap, checked", RestoreSource{Location: loc, Key: "etcdctl.db"}, false},
		{"bootstrap, skipped", RestoreSource{Location: loc, Key: "copy.db", SkipHashCheck: true}, true},
		{"in place, checked", RestoreSource{Location: loc, Key: "etcdctl.db", InPlaceID: "r1"}, false},
		{"in place, skipped", RestoreSource{Location: loc, Key: "copy.db", InPlaceID: "r1", SkipHashCheck: true}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			init, _ := restoreInitContainer(cluster(nil), opts, "img", &c.src)
			job := VerifyJob(x, cluster(nil), &c.src, opts)
			for what, args := range map[string][]string{"init container": init.Args, "verify job": job.Spec.Template.Spec.Containers[0].Args} {
				if got := slices.Contains(args, "--skip-hash-check"); got != c.want {
					t.Errorf("%s args %q: --skip-hash-check %v, want %v", what, args, got, c.want)
				}
				if !slices.Contains(args, "--key="+c.src.Key) {
					t.Errorf("%s args %q lack the key", what, args)
				}
			}
		})
	}
}
