//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// memberHostDir is the host directory of member pod's volume: the local
// provisioner's hostPath (hack/provisioner); the data dir is data/ in it.
func memberHostDir(ctx context.Context, ns, pod string) string {
	GinkgoHelper()
	pvc := &corev1.PersistentVolumeClaim{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-" + pod}, pvc)).To(Succeed())
	pv := &corev1.PersistentVolume{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, pv)).To(Succeed())
	Expect(pv.Spec.HostPath).NotTo(BeNil(), "volume %s is not a hostPath", pv.Name)
	return pv.Spec.HostPath.Path
}

// setUnschedulable cordons or uncordons every node: a deleted member pod
// then stays Pending, its member stopped, until the nodes are uncordoned.
func setUnschedulable(ctx context.Context, on bool) {
	GinkgoHelper()
	nodes := &corev1.NodeList{}
	Expect(k8s.List(ctx, nodes)).To(Succeed())
	for i := range nodes.Items {
		n := &nodes.Items[i]
		patch := client.MergeFrom(n.DeepCopy())
		n.Spec.Unschedulable = on
		Expect(k8s.Patch(ctx, n, patch)).To(Succeed())
	}
}

// stopMember deletes a member's pod while the nodes are cordoned and
// waits until its replacement is Pending: the member is stopped (its
// etcd closed its database cleanly) until uncordon is called.
func stopMember(ctx context.Context, ns, name string) (uncordon func()) {
	GinkgoHelper()
	old := &corev1.Pod{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, old)).To(Succeed())
	setUnschedulable(ctx, true)
	done := false
	uncordon = func() {
		if !done {
			done = true
			setUnschedulable(context.Background(), false)
		}
	}
	DeferCleanup(uncordon)
	Expect(k8s.Delete(ctx, old)).To(Succeed())
	Eventually(func(g Gomega) {
		p := &corev1.Pod{}
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p)
		if err == nil {
			g.Expect(p.UID).NotTo(Equal(old.UID), "the old pod is still there")
			g.Expect(p.Spec.NodeName).To(BeEmpty(), "the new pod was scheduled")
		}
	}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())
	return uncordon
}

var _ = Describe("Corrupt members", func() {
	It("replaces a member whose database file was damaged while it was stopped, losing no acknowledged write", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		const name = "rot"
		createCluster(ctx, ns, name, 3, nil)
		waitAvailable(ctx, ns, name, 3)
		tlsCfg := clientTLS(ctx, ns, name)
		cl := etcdClient(podEndpoints(ctx, ns, name, "https"), tlsCfg)
		w := startWriter(ctx, cl)

		const sentinel = "quorum-e2e-corruption-sentinel-6f3b2a91"
		_, err := cl.Put(op(ctx), "/victim", sentinel)
		Expect(err).NotTo(HaveOccurred())
		// The top ordinal, as when CI lost the set-aside copy: the
		// StatefulSet must not shrink over its removed member (membership
		// rule 4 keeps Desired pods; whenScaled: Delete would take the
		// claim and the copy with it). If it leads, stopping it hands
		// leadership over (etcd's shutdown transfer); a corrupt leader
		// still running would get MoveLeader first (membership rule 3c).
		victim := name + "-2"
		c := &etcdv1.EtcdCluster{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		oldID := ""
		for _, m := range c.Status.Members {
			if m.Name == victim {
				oldID = m.ID
			}
		}
		Expect(oldID).NotTo(BeEmpty())
		dir := memberHostDir(ctx, ns, victim)
		db := filepath.Join(dir, "data", "member", "snap", "db")

		By("stopping " + victim + " and changing the bytes of a value in its bbolt file")
		uncordon := stopMember(ctx, ns, victim)
		b, err := os.ReadFile(db)
		Expect(err).NotTo(HaveOccurred())
		n := bytes.Count(b, []byte(sentinel))
		Expect(n).To(BeNumerically(">", 0), "the value is not in %s", db)
		b = bytes.ReplaceAll(b, []byte(sentinel), []byte(strings.ToUpper(sentinel)))
		Expect(os.WriteFile(db, b, 0o600)).To(Succeed())
		GinkgoWriter.Printf("damaged %d copies of the value in %s\n", n, db)
		uncordon()

		By("the operator reports DataCorrupt naming the member")
		Eventually(func(g Gomega) {
			c, reason := degradedReason(g, ctx, ns, name)
			g.Expect(reason).To(Equal(etcdv1.ReasonDataCorrupt), "conditions %+v", c.Status.Conditions)
			msg := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionDegraded).Message
			g.Expect(msg).To(And(ContainSubstring(victim), ContainSubstring("Next:")), msg)
			GinkgoWriter.Printf("Degraded: %s\n", msg)
		}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
		Eventually(func() int { return countEvents(ctx, ns, etcdv1.ReasonDataCorrupt) }).WithContext(ctx).
			WithTimeout(time.Minute).WithPolling(time.Second).Should(BeNumerically(">", 0), "a Warning event on detection")

		By("the member is replaced: a new ID, every member healthy, DataCorrupt gone")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
			ids := map[string]string{}
			for _, m := range c.Status.Members {
				ids[m.Name] = m.ID
			}
			g.Expect(ids).To(HaveKey(victim))
			g.Expect(ids[victim]).NotTo(Equal(oldID))
		}).WithContext(ctx).WithTimeout(6 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		waitSettled(ctx, ns, name, 3)
		_, reason := degradedReason(Default, ctx, ns, name)
		Expect(reason).NotTo(Equal(etcdv1.ReasonDataCorrupt))
		for _, r := range []string{"MemberRemoved", "MemberAdded", "MemberPromoted"} {
			Expect(countEvents(ctx, ns, r)).To(BeNumerically(">", 0), r)
		}

		By("the damaged data is set aside on the volume, not deleted")
		aside, err := filepath.Glob(filepath.Join(dir, "data.corrupt-*"))
		Expect(err).NotTo(HaveOccurred())
		Expect(aside).To(HaveLen(1))
		Expect(filepath.Join(aside[0], "member", "snap", "db")).To(BeAnExistingFile())
		Expect(filepath.Join(aside[0], "quorum-data-corrupt")).To(BeAnExistingFile())

		acked, failed := w.finish()
		GinkgoWriter.Printf("writes acknowledged %d, failed %d, largest gap %v\n", len(acked), failed, w.maxGap)
		cl = etcdClient(podEndpoints(ctx, ns, name, "https"), tlsCfg)
		expectAllWritten(ctx, cl, acked)
		got, err := cl.Get(op(ctx), "/victim")
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Kvs).To(HaveLen(1))
		Expect(string(got.Kvs[0].Value)).To(Equal(sentinel))
		expectEqualHashKV(ctx, ns, name, tlsCfg)
	}, SpecTimeout(20*time.Minute))
})
