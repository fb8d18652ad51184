//go:build e2e

package e2e

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var _ = Describe("Rollout", func() {
	It("restarts members one at a time for a spec change, leader last, losing no acknowledged write", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "roll", 3, nil)
		waitAvailable(ctx, ns, "roll", 3)
		tlsCfg := clientTLS(ctx, ns, "roll")
		w := startWriter(ctx, etcdClient(podEndpoints(ctx, ns, "roll", "https"), tlsCfg))

		By("changing an etcd option")
		c := &etcdv1.EtcdCluster{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "roll"}, c)).To(Succeed())
		patch := client.MergeFrom(c.DeepCopy())
		c.Spec.EtcdOptions = map[string]string{"snapshot-count": "20000"}
		Expect(k8s.Patch(ctx, c, patch)).To(Succeed())

		By("waiting for every member to run the new spec")
		Eventually(func(g Gomega) {
			evs := &eventsv1.EventList{}
			g.Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
			restarted := 0
			for _, e := range evs.Items {
				if e.Reason == "MemberRestarted" {
					restarted++
				}
			}
			g.Expect(restarted).To(Equal(3))
		}).WithContext(ctx).WithTimeout(6 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		waitSettled(ctx, ns, "roll", 3)
		acked, failed := w.finish()
		GinkgoWriter.Printf("writes acknowledged %d, failed %d, largest gap %v\n", len(acked), failed, w.maxGap)

		By("checking the order: leadership moved away before the last restart")
		evs := &eventsv1.EventList{}
		Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
		var order []string
		for _, e := range evs.Items {
			if e.Reason == "MemberRestarted" || (e.Reason == "LeaderMoved" && strings.Contains(e.Note, "before restarting")) {
				order = append(order, e.EventTime.Format(time.RFC3339Nano)+" "+e.Reason+" "+e.Note)
			}
		}
		GinkgoWriter.Printf("rollout events:\n%s\n", strings.Join(order, "\n"))
		Expect(order).To(ContainElement(ContainSubstring("LeaderMoved")), "the leader was restarted without moving its leadership first")

		By("reading every acknowledged write")
		expectAllWritten(ctx, etcdClient(podEndpoints(ctx, ns, "roll", "https"), tlsCfg), acked)
	}, SpecTimeout(10*time.Minute))
})
