//go:build e2e

package e2e

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"quorum.dev/etcd-operator/controllers/failpoint"
)

// installOperator (re)installs the chart with extra helm arguments.
func installOperator(extra ...string) {
	args := append([]string{"upgrade", "--install", release, "charts/quorum-operator", "--namespace", operatorNamespace,
		"--wait", "--timeout", "3m", "--set", "logLevel=debug"}, extra...)
	run("helm", args...)
}

// unstickOperator deletes the operator pod whenever it waits in crash-loop
// back-off, so that a test with failpoints does not wait minutes for the
// growing back-off. The function it returns stops it and says how many
// times the operator container restarted meanwhile.
func unstickOperator(ctx context.Context) func() int {
	restarts := map[string]int32{} // by pod UID: the highest restart count seen
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Second):
			}
			pods := &corev1.PodList{}
			if k8s.List(ctx, pods, client.InNamespace(operatorNamespace), client.MatchingLabels{"app.kubernetes.io/name": "quorum-operator"}) != nil {
				continue
			}
			for i := range pods.Items {
				p := &pods.Items[i]
				for _, cs := range p.Status.ContainerStatuses {
					if cs.RestartCount > restarts[string(p.UID)] {
						restarts[string(p.UID)] = cs.RestartCount
					}
					if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
						// The crash that put it in back-off is not in
						// RestartCount yet.
						restarts[string(p.UID)] = cs.RestartCount + 1
						_ = k8s.Delete(ctx, p)
					}
				}
			}
		}
	}()
	return func() int {
		close(done)
		<-stopped
		n := 0
		for _, r := range restarts {
			n += int(r)
		}
		return n
	}
}

var _ = Describe("Operator crashes", Serial, func() {
	It("resumes every membership step after the operator dies right after each etcd change", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		createCluster(ctx, ns, "crash", 1, nil)
		waitAvailable(ctx, ns, "crash", 1)
		tlsCfg := clientTLS(ctx, ns, "crash")
		w := startWriter(ctx, etcdClient(podEndpoints(ctx, ns, "crash", "https"), tlsCfg))

		By("turning on failpoints: the operator exits right after every etcd membership change")
		installOperator("--set", "extraEnv[0].name="+failpoint.EnvVar,
			"--set-string", "extraEnv[0].value="+failpoint.AfterAddLearner+"\\,"+failpoint.AfterPromote+"\\,"+failpoint.AfterRemoveMember+"\\,"+failpoint.AfterMoveLeader)
		DeferCleanup(func() { installOperator() })
		crashes := unstickOperator(ctx)

		By("scaling 1→3 and back to 1 through the crashes")
		scaleTo(ctx, ns, "crash", 3)
		waitSettled(ctx, ns, "crash", 3)
		scaleTo(ctx, ns, "crash", 1)
		waitSettled(ctx, ns, "crash", 1)
		n := crashes()
		acked, failed := w.finish()
		GinkgoWriter.Printf("operator crashes %d; writes acknowledged %d, failed %d\n", n, len(acked), failed)
		Expect(n).To(BeNumerically(">=", 4), "the failpoints fired")

		By("checking no member was lost or left behind")
		cl := etcdClient(podEndpoints(ctx, ns, "crash", "https"), tlsCfg)
		members, err := cl.MemberList(op(ctx))
		Expect(err).NotTo(HaveOccurred())
		Expect(members.Members).To(HaveLen(1))
		Expect(members.Members[0].IsLearner).To(BeFalse())
		expectAllWritten(ctx, cl, acked)
	}, SpecTimeout(15*time.Minute))
})
