package render

import (
	"slices"
	"strings"
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
			init, _, _ := restoreInitContainer(cluster(nil), opts, "img", &c.src)
			job := VerifyJob(x, cluster(nil), &c.src, opts, "")
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

// TestRestoreExpectSHA256: an in-place restore's members are told the
// SHA-256 that verification saw, so they refuse a snapshot replaced after
// it; the verification Job, which computes it, is not.
func TestRestoreExpectSHA256(t *testing.T) {
	loc := etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "snaps"}}
	x := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"}}
	sha := "ab01"
	src := RestoreSource{Location: loc, Key: "etcdctl.db", InPlaceID: "r1", ExpectSHA256: sha}
	init, _, _ := restoreInitContainer(cluster(nil), opts, "img", &src)
	if !slices.Contains(init.Args, "--expect-sha256="+sha) {
		t.Errorf("init container args %q lack --expect-sha256=%s", init.Args, sha)
	}
	verify := RestoreSource{Location: loc, Key: "etcdctl.db"}
	for _, a := range VerifyJob(x, cluster(nil), &verify, opts, "").Spec.Template.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "--expect-sha256") {
			t.Errorf("verify job args carry %s", a)
		}
	}
	none, _, _ := restoreInitContainer(cluster(nil), opts, "img", &RestoreSource{Location: loc, Key: "etcdctl.db"})
	for _, a := range none.Args {
		if strings.HasPrefix(a, "--expect-sha256") {
			t.Errorf("a bootstrap restore without a verified checksum carries %s", a)
		}
	}
}

// TestUndoInitContainer: once status.restore records a failure, the
// members' template gets the undo init container (first, before a
// restore init container) and the restore-undone annotation; without one,
// neither.
func TestUndoInitContainer(t *testing.T) {
	loc := etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "snaps"}}
	prev := &RestoreSource{Location: loc, Key: "old.db", InPlaceID: "r0"}
	for _, c := range []struct {
		name     string
		st       *etcdv1.ClusterRestoreStatus
		restore  *RestoreSource
		wantInit []string
		undone   string
	}{
		{"no restore", nil, nil, nil, ""},
		{"restoring", &etcdv1.ClusterRestoreStatus{RestoreID: "r1"}, &RestoreSource{Location: loc, Key: "new.db", InPlaceID: "r1"}, []string{"restore"}, ""},
		{"failed, no earlier restore", &etcdv1.ClusterRestoreStatus{RestoreID: "r1", Failure: "boom"}, nil, []string{UndoContainerName}, "r1"},
		{"failed after an earlier restore", &etcdv1.ClusterRestoreStatus{RestoreID: "r1", Failure: "boom", RolledBack: true}, prev,
			[]string{UndoContainerName, "restore"}, "r1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := cluster(func(e *etcdv1.EtcdCluster) { e.Status.Restore = c.st })
			sts := StatefulSet(cl, opts, 3, Revision{Image: "img"}, c.restore)
			var names []string
			for _, ic := range sts.Spec.Template.Spec.InitContainers {
				names = append(names, ic.Name)
				if ic.Name == UndoContainerName {
					want := []string{"restore", "--undo", "--restore-id=r1", "--keep-replaced=" + KeptDataDir}
					if !slices.Equal(ic.Args, want) || ic.Image != "img" {
						t.Errorf("undo container: args %q image %q, want %q image img", ic.Args, ic.Image, want)
					}
				}
			}
			if !slices.Equal(names, c.wantInit) {
				t.Errorf("init containers %q, want %q", names, c.wantInit)
			}
			if got := sts.Spec.Template.Annotations[AnnotationRestoreUndone]; got != c.undone {
				t.Errorf("restore-undone annotation %q, want %q", got, c.undone)
			}
		})
	}
}

// TestVerifyJobImage: the verification runs the members' server image
// when they have one, else the cluster's.
func TestVerifyJobImage(t *testing.T) {
	x := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"}}
	src := &RestoreSource{Location: etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "snaps"}}, Key: "k"}
	c := cluster(nil)
	members := StatefulSet(c, opts, 3, Revision{Image: "members:3.5"}, nil)
	if got := VerifyJob(x, c, src, opts, MemberImage(members)).Spec.Template.Spec.Containers[0].Image; got != "members:3.5" {
		t.Errorf("verify image %q, want the members' members:3.5", got)
	}
	if got := VerifyJob(x, c, src, opts, MemberImage(nil)).Spec.Template.Spec.Containers[0].Image; got != opts.Image(c) {
		t.Errorf("verify image without members %q, want %q", got, opts.Image(c))
	}
}
