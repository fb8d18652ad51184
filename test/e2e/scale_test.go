//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// writer puts sequential keys until stopped and remembers which writes
// were acknowledged.
type writer struct {
	mu     sync.Mutex
	acked  []string
	failed int
	maxGap time.Duration // longest time between two acknowledged writes
	errs   []string      // the first failed writes: time, key and error
	stop   chan struct{}
	done   chan struct{}
}

func startWriter(ctx context.Context, c *clientv3.Client) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		last := time.Now()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			key := fmt.Sprintf("/load/%06d", i)
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := c.Put(octx, key, key)
			cancel()
			w.mu.Lock()
			if err == nil {
				w.acked = append(w.acked, key)
				if gap := time.Since(last); gap > w.maxGap {
					w.maxGap = gap
				}
				last = time.Now()
			} else {
				w.failed++
				if len(w.errs) < 10 {
					w.errs = append(w.errs, fmt.Sprintf("%s %s: %v", time.Now().Format("15:04:05.000"), key, err))
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *writer) finish() (acked []string, failed int) {
	close(w.stop)
	<-w.done
	for _, e := range w.errs {
		GinkgoWriter.Printf("failed write %s\n", e)
	}
	return w.acked, w.failed
}

// expectAllWritten fails unless every acknowledged key of the writer is
// readable through c.
func expectAllWritten(ctx context.Context, c *clientv3.Client, acked []string) {
	resp, err := c.Get(op(ctx), "/load/", clientv3.WithPrefix())
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	have := map[string]bool{}
	for _, kv := range resp.Kvs {
		have[string(kv.Key)] = true
	}
	for _, k := range acked {
		ExpectWithOffset(1, have).To(HaveKey(k), "acknowledged write lost")
	}
}

func scaleTo(ctx context.Context, ns, name string, n int32) {
	c := &etcdv1.EtcdCluster{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
	patch := client.MergeFrom(c.DeepCopy())
	c.Spec.Replicas = &n
	Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
}

// waitSettled waits until the cluster has exactly n healthy voters, no
// learner, and nothing in progress.
func waitSettled(ctx context.Context, ns, name string, n int) {
	c := &etcdv1.EtcdCluster{}
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable)).To(BeTrue())
		g.Expect(meta.IsStatusConditionFalse(c.Status.Conditions, etcdv1.ConditionProgressing)).To(BeTrue(), "conditions: %+v", c.Status.Conditions)
		g.Expect(c.Status.Members).To(HaveLen(n))
		for _, m := range c.Status.Members {
			g.Expect(m.Healthy).To(BeTrue(), "%+v", m)
			g.Expect(m.Role).NotTo(Equal(etcdv1.RoleLearner))
		}
		g.Expect(c.Status.ReadyReplicas).To(Equal(int32(n)))
		pods := &corev1.PodList{}
		g.Expect(k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{etcdv1.LabelInstance: name})).To(Succeed())
		g.Expect(pods.Items).To(HaveLen(n), "pods of removed members are gone")
	}).WithContext(ctx).WithTimeout(5 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
}

var _ = Describe("Scaling", func() {
	It("grows 1→3 through learners and shrinks 3→1 under a steady write load, losing no acknowledged write", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "elastic", 1, nil)
		waitAvailable(ctx, ns, "elastic", 1)
		tlsCfg := clientTLS(ctx, ns, "elastic")
		// Member 0 stays through the whole test: the writer talks to it.
		w := startWriter(ctx, etcdClient(podEndpoints(ctx, ns, "elastic", "https"), tlsCfg))

		By("scaling up to 3")
		scaleTo(ctx, ns, "elastic", 3)
		waitSettled(ctx, ns, "elastic", 3)

		By("scaling down to 1")
		scaleTo(ctx, ns, "elastic", 1)
		waitSettled(ctx, ns, "elastic", 1)
		acked, failed := w.finish()
		GinkgoWriter.Printf("writes acknowledged %d, failed %d\n", len(acked), failed)
		Expect(len(acked)).To(BeNumerically(">", 20))

		By("reading back every acknowledged write")
		r := etcdClient(podEndpoints(ctx, ns, "elastic", "https"), tlsCfg)
		expectAllWritten(ctx, r, acked)
		members, err := r.MemberList(op(ctx))
		Expect(err).NotTo(HaveOccurred())
		Expect(members.Members).To(HaveLen(1), "no zombie members or orphan learners")
	}, SpecTimeout(15*time.Minute))

	It("keeps every member's data identical after scaling 3→5→3, never Degraded and with no Warning event", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "wide", 3, nil)
		waitAvailable(ctx, ns, "wide", 3)
		tlsCfg := clientTLS(ctx, ns, "wide")
		w := startWriter(ctx, etcdClient(podEndpoints(ctx, ns, "wide", "https"), tlsCfg))
		quiet := watchQuiet(ctx, ns, "wide")
		scaleTo(ctx, ns, "wide", 5)
		waitSettled(ctx, ns, "wide", 5)
		scaleTo(ctx, ns, "wide", 3)
		waitSettled(ctx, ns, "wide", 3)
		quiet.finish(ctx, ns, "wide")
		acked, _ := w.finish()
		Expect(acked).NotTo(BeEmpty())

		expectEqualHashKV(ctx, ns, "wide", tlsCfg)
	}, SpecTimeout(15*time.Minute))
})

var _ = Describe("Member replacement", func() {
	It("replaces a member whose volume was lost, under write load, losing no acknowledged write", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "heal", 3, nil)
		c := waitAvailable(ctx, ns, "heal", 3)
		oldID := ""
		for _, m := range c.Status.Members {
			if m.Name == "heal-1" {
				oldID = m.ID
			}
		}
		Expect(oldID).NotTo(BeEmpty())
		tlsCfg := clientTLS(ctx, ns, "heal")
		w := startWriter(ctx, etcdClient(podEndpoints(ctx, ns, "heal", "https"), tlsCfg))

		By("deleting member heal-1's volume claim and pod")
		pvc := &corev1.PersistentVolumeClaim{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-heal-1"}, pvc)).To(Succeed())
		Expect(k8s.Delete(ctx, pvc)).To(Succeed())
		pod := &corev1.Pod{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "heal-1"}, pod)).To(Succeed())
		Expect(k8s.Delete(ctx, pod)).To(Succeed())

		By("waiting for heal-1 to come back as a new member")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "heal"}, c)).To(Succeed())
			ids := map[string]string{}
			for _, m := range c.Status.Members {
				g.Expect(m.Healthy).To(BeTrue(), "%+v", c.Status.Members)
				g.Expect(m.Role).NotTo(Equal(etcdv1.RoleLearner))
				ids[m.Name] = m.ID
			}
			g.Expect(ids).To(HaveLen(3))
			g.Expect(ids).To(HaveKey("heal-1"))
			g.Expect(ids["heal-1"]).NotTo(Equal(oldID), "heal-1 was replaced by a new member")
		}).WithContext(ctx).WithTimeout(6 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		waitSettled(ctx, ns, "heal", 3)
		acked, failed := w.finish()
		GinkgoWriter.Printf("writes acknowledged %d, failed %d, largest gap %v\n", len(acked), failed, w.maxGap)

		By("reading every acknowledged write from the new member itself")
		var ep string
		pods := &corev1.PodList{}
		Expect(k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{etcdv1.LabelInstance: "heal"})).To(Succeed())
		for _, p := range pods.Items {
			if p.Name == "heal-1" {
				ep = "https://" + p.Status.PodIP + ":2379"
			}
		}
		expectAllWritten(ctx, etcdClient([]string{ep}, tlsCfg), acked)
	}, SpecTimeout(10*time.Minute))
})

// leaderPod is the pod of the member that leads, from the status.
func leaderPod(ctx context.Context, ns, name string) string {
	c := &etcdv1.EtcdCluster{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
	for _, m := range c.Status.Members {
		if m.Role == etcdv1.RoleLeader {
			return m.Name
		}
	}
	return ""
}

func deletePod(ctx context.Context, ns, name string) {
	pod := &corev1.Pod{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pod)).To(Succeed())
	Expect(k8s.Delete(ctx, pod)).To(Succeed())
}

var _ = Describe("Scaling through failures", func() {
	It("scales 3→5 with the leader pod killed mid-way and 5→3 with a member down, losing no acknowledged write", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "rough", 3, nil)
		waitAvailable(ctx, ns, "rough", 3)
		tlsCfg := clientTLS(ctx, ns, "rough")
		w := startWriter(ctx, etcdClient(podEndpoints(ctx, ns, "rough", "https"), tlsCfg))

		By("scaling to 5 and killing the leader pod once the first learner is in")
		scaleTo(ctx, ns, "rough", 5)
		Eventually(func() int {
			c := &etcdv1.EtcdCluster{}
			_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "rough"}, c)
			return len(c.Status.Members)
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(500 * time.Millisecond).Should(BeNumerically(">=", 4))
		leader := leaderPod(ctx, ns, "rough")
		Expect(leader).NotTo(BeEmpty())
		deletePod(ctx, ns, leader)
		waitSettled(ctx, ns, "rough", 5)

		By("scaling to 3 right after taking a member down")
		deletePod(ctx, ns, "rough-1")
		scaleTo(ctx, ns, "rough", 3)
		waitSettled(ctx, ns, "rough", 3)
		acked, failed := w.finish()
		GinkgoWriter.Printf("writes acknowledged %d, failed %d, largest gap %v\n", len(acked), failed, w.maxGap)

		By("checking the data and the member list")
		cl := etcdClient(podEndpoints(ctx, ns, "rough", "https"), tlsCfg)
		expectAllWritten(ctx, cl, acked)
		members, err := cl.MemberList(op(ctx))
		Expect(err).NotTo(HaveOccurred())
		Expect(members.Members).To(HaveLen(3))
		for _, m := range members.Members {
			Expect(m.IsLearner).To(BeFalse(), m.Name)
		}
	}, SpecTimeout(15*time.Minute))
})

// expectEqualHashKV compares the HashKV of every member at the current
// revision.
func expectEqualHashKV(ctx context.Context, ns, name string, tlsCfg *tls.Config) {
	GinkgoHelper()
	By("comparing HashKV of every member at one revision")
	eps := podEndpoints(ctx, ns, name, "https")
	last, err := etcdClient(eps, tlsCfg).Get(op(ctx), "/", clientv3.WithCountOnly())
	Expect(err).NotTo(HaveOccurred())
	rev := last.Header.Revision
	hashes := map[uint32][]string{}
	for _, ep := range eps {
		h, err := etcdClient([]string{ep}, tlsCfg).HashKV(op(ctx), ep, rev)
		Expect(err).NotTo(HaveOccurred(), ep)
		hashes[h.Hash] = append(hashes[h.Hash], ep)
	}
	Expect(hashes).To(HaveLen(1), "members disagree: %v", hashes)
}
