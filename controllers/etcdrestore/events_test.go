package etcdrestore

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/testenv"
)

var _ = Describe("the restore's events", func() {
	It("announces Verifying once, although later passes read the restore or its Job from a lagging cache", func(ctx SpecContext) {
		x := createS3Restore(ctx)
		created := x.DeepCopy()

		cache := &testenv.Lagging{Client: k8s}
		rec := events.NewFakeRecorder(10)
		r := newReconciler(cache, rec)
		// Every reading of the clock is a few seconds later: a pass that
		// starts the verification again shows in status.startTime.
		clock := time.Now()
		r.Clock = func() time.Time { clock = clock.Add(3 * time.Second); return clock }
		req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(x)}

		_, err := r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Get(ctx, req.NamespacedName, x)).To(Succeed())
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreVerifying))
		started := x.Status.StartTime

		By("a pass that still reads the restore as created (its Job's creation woke it)")
		cache.Stale = created
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		By("a pass that reads the new phase but not the Job yet")
		cache.Stale, cache.NoJobs = nil, true
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())

		Expect(k8s.Get(ctx, req.NamespacedName, x)).To(Succeed())
		Expect(x.Status.Phase).To(Equal(etcdv1.RestoreVerifying))
		Expect(x.Status.StartTime.Equal(started)).To(BeTrue(), "the verification started once")
		got := testenv.Drain(rec)
		Expect(got).To(HaveLen(1), "%q", got)
		Expect(got[0]).To(SatisfyAll(HavePrefix(corev1.EventTypeNormal+" Verifying"), ContainSubstring("snapshot ns/db/snap.db before restoring db")))
	})
})

func TestPhaseEvent(t *testing.T) {
	for _, tc := range []struct {
		from, to     etcdv1.RestorePhase
		kind, reason string
		announced    bool
	}{
		{"", etcdv1.RestoreVerifying, corev1.EventTypeNormal, "Verifying", true},
		{etcdv1.RestorePending, etcdv1.RestoreVerifying, corev1.EventTypeNormal, "Verifying", true},
		{etcdv1.RestoreVerifying, etcdv1.RestoreRestoring, corev1.EventTypeNormal, "Verified", true},
		{etcdv1.RestorePending, etcdv1.RestoreRestoring, corev1.EventTypeWarning, "ForceNewCluster", true},
		{etcdv1.RestoreRestoring, etcdv1.RestoreSucceeded, corev1.EventTypeNormal, "Restored", true},
		{etcdv1.RestoreVerifying, etcdv1.RestoreFailed, corev1.EventTypeWarning, "RestoreFailed", true},
		{"", etcdv1.RestorePending, "", "", false},
		{etcdv1.RestoreVerifying, etcdv1.RestorePending, "", "", false},
	} {
		kind, reason, _, ok := phaseEvent(tc.from, tc.to)
		if kind != tc.kind || reason != tc.reason || ok != tc.announced {
			t.Errorf("%q → %q: %s %s %v, want %s %s %v", tc.from, tc.to, kind, reason, ok, tc.kind, tc.reason, tc.announced)
		}
	}
}
