//go:build e2e

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// causeTimeout: how soon a member that cannot start must be reported with
// its Kubernetes cause (the brief of issue #18: within a minute; the pod
// needs a few seconds to be scheduled and fail first).
const causeTimeout = 90 * time.Second

var _ = Describe("Status", func() {
	It("names why members of a new cluster cannot start, and deleting a cluster that never formed leaves no claim", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "badopt", 1, func(c *etcdv1.EtcdCluster) {
			c.Spec.EtcdOptions = map[string]string{"snapshot-count": "lots"}
		})
		createCluster(ctx, ns, "noimage", 1, func(c *etcdv1.EtcdCluster) { c.Spec.Version = "3.7.99" })

		for name, cause := range map[string]string{
			"badopt":  "snapshot-count", // etcd's own message, from the container's termination message
			"noimage": "cannot be pulled",
		} {
			By("reporting the cause of " + name + " in Degraded")
			c := &etcdv1.EtcdCluster{}
			Eventually(func(g Gomega) {
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
				d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
				g.Expect(d).NotTo(BeNil())
				g.Expect(d.Status).To(BeEquivalentTo("True"), "%+v", c.Status.Conditions)
				g.Expect(d.Reason).To(Equal(etcdv1.ReasonMemberPodsFailing))
				g.Expect(d.Message).To(ContainSubstring(cause))
				g.Expect(c.Status.Reason).To(Equal(etcdv1.ReasonMemberPodsFailing), "the list view shows Degraded's reason")
			}).WithContext(ctx).WithTimeout(causeTimeout).WithPolling(2 * time.Second).Should(Succeed())
			GinkgoWriter.Printf("%s Degraded: %s\n", name, meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded).Message)
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-" + name + "-0"}, &corev1.PersistentVolumeClaim{})).To(Succeed(), "the member's claim exists before the delete")
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-root-password"}, &corev1.Secret{})).To(Succeed(), "the generated password exists before the delete")
		}

		By("keeping Degraded steady while badopt's member crash-loops (it runs, not ready, between back-offs): one Warning")
		Consistently(func(g Gomega) {
			c := &etcdv1.EtcdCluster{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "badopt"}, c)).To(Succeed())
			d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded)
			g.Expect(d.Status).To(BeEquivalentTo("True"), "%+v", c.Status.Conditions)
			g.Expect(d.Reason).To(Equal(etcdv1.ReasonMemberPodsFailing))
			g.Expect(c.Status.Reason).NotTo(Equal(etcdv1.ReasonVolumeExpanding), "a new cluster's claim is not being expanded")
			if v := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionVolumesGrown); v != nil {
				g.Expect(v.Reason).NotTo(Equal(etcdv1.ReasonVolumeExpanding), "a new cluster's claim is not being expanded")
			}
		}).WithContext(ctx).WithTimeout(45 * time.Second).WithPolling(time.Second).Should(Succeed())
		evs := &eventsv1.EventList{}
		Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
		var warnings []string
		for _, e := range evs.Items {
			if e.Type == corev1.EventTypeWarning && e.Regarding.Name == "badopt" {
				warnings = append(warnings, e.Reason+": "+e.Note)
				if e.Series != nil {
					for range e.Series.Count - 1 {
						warnings = append(warnings, e.Reason+": (repeated)")
					}
				}
			}
		}
		Expect(warnings).To(HaveLen(1), "one Warning for one cause")

		By("deleting both clusters: their claims go with them")
		for _, name := range []string{"badopt", "noimage"} {
			c := &etcdv1.EtcdCluster{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
			Expect(k8s.Delete(ctx, c)).To(Succeed())
		}
		Eventually(func(g Gomega) {
			for _, name := range []string{"badopt", "noimage"} {
				err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &etcdv1.EtcdCluster{})
				g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "cluster %s still there: %v", name, err)
			}
			pvcs := &corev1.PersistentVolumeClaimList{}
			g.Expect(k8s.List(ctx, pvcs, client.InNamespace(ns))).To(Succeed())
			g.Expect(pvcs.Items).To(BeEmpty(), "claims left behind")
			for _, name := range []string{"badopt", "noimage"} {
				err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-root-password"}, &corev1.Secret{})
				g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "root password Secret of %s left behind: %v", name, err)
			}
			evs := &eventsv1.EventList{}
			g.Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
			deleted := map[string]bool{}
			for _, e := range evs.Items {
				if e.Reason == "ClaimsDeleted" {
					deleted[e.Regarding.Name] = true
				}
			}
			g.Expect(deleted).To(HaveKey("badopt"))
			g.Expect(deleted).To(HaveKey("noimage"))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	}, SpecTimeout(5*time.Minute))
})

// watchQuiet records, until stopped, every Warning event about the
// cluster and every Degraded=True it reports: a planned change (scaling)
// must produce neither.
type quietWatch struct {
	stop, done chan struct{}
	degraded   []string
}

func watchQuiet(ctx SpecContext, ns, name string) *quietWatch {
	w := &quietWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			c := &etcdv1.EtcdCluster{}
			if k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c) != nil {
				continue
			}
			if d := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded); d != nil && d.Status == "True" {
				w.degraded = append(w.degraded, d.Reason+": "+d.Message)
			}
		}
	}()
	return w
}

// finish stops the watch and fails if the cluster was ever Degraded or
// any Warning event was recorded about it.
func (w *quietWatch) finish(ctx SpecContext, ns, name string) {
	close(w.stop)
	<-w.done
	ExpectWithOffset(1, w.degraded).To(BeEmpty(), "Degraded was set during a planned change")
	evs := &eventsv1.EventList{}
	ExpectWithOffset(1, k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
	var warnings []string
	for _, e := range evs.Items {
		if e.Type == corev1.EventTypeWarning && e.Regarding.Name == name {
			warnings = append(warnings, e.Reason+": "+e.Note)
		}
	}
	ExpectWithOffset(1, warnings).To(BeEmpty(), "Warning events during a planned change")
}
