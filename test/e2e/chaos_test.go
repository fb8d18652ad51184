//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/test/history"
)

// The reliability suite (`make test-chaos`, label "chaos"): each scenario
// runs CHAOS_ROUNDS rounds of a recorded client workload against a
// managed 3-member cluster while a fault is injected and the operator
// repairs it. Every round checks the history for linearizability
// (porcupine), the watch stream for order, gaps, duplicates and phantom
// values, every acknowledged write against the final state, and HashKV
// across members. The table is printed at the end of the suite.

var (
	chaosMu      sync.Mutex
	chaosResults []history.Summary
)

func chaosRounds() int {
	if n, err := strconv.Atoi(os.Getenv("CHAOS_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 1
}

var _ = ReportAfterSuite("chaos table", func(r Report) {
	chaosMu.Lock()
	defer chaosMu.Unlock()
	if len(chaosResults) == 0 {
		return
	}
	fmt.Println("\nreliability suite:")
	_ = history.PrintSummaries(os.Stdout, chaosResults)
	if dir := os.Getenv("CHAOS_RESULTS_DIR"); dir != "" {
		if f, err := os.Create(filepath.Join(dir, "chaos-results.txt")); err == nil {
			_ = history.PrintSummaries(f, chaosResults)
			_ = f.Close()
		}
	}
})

// serviceClient talks to the cluster through its client Service, as an
// application would: a restarted pod's new address does not matter.
func serviceClient(ctx context.Context, ns, name string, tlsCfg *tls.Config) *clientv3.Client {
	svc := &corev1.Service{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-client"}, svc)).To(Succeed())
	cfg := clientv3.Config{
		Endpoints: []string{fmt.Sprintf("https://%s:%d", svc.Spec.ClusterIP, etcdv1.ClientPort)}, TLS: tlsCfg,
		DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithAuthority(tlsCfg.ServerName)},
	}
	c, err := clientv3.New(cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = c.Close() })
	return c
}

// chaosScenario creates a 3-member cluster and runs the rounds.
func chaosScenario(ctx SpecContext, scenario string, fault func(ctx SpecContext, ns, name string, round int)) {
	chaosScenarioWith(ctx, scenario, nil, fault)
}

// chaosScenarioWith is chaosScenario with the cluster changed before it is
// created.
func chaosScenarioWith(ctx SpecContext, scenario string, mut func(*etcdv1.EtcdCluster), fault func(ctx SpecContext, ns, name string, round int)) {
	ns := newNamespace(ctx)
	name := "chaos"
	created := createCluster(ctx, ns, name, 3, mut)
	waitAvailable(ctx, ns, name, 3)
	var cl *clientv3.Client
	if created.TLSEnabled() {
		// A client that follows the client Secret (a CA rotation replaces
		// its certificate and ca.crt).
		cl = serviceClient(ctx, ns, name, followingClientTLS(ctx, ns, name))
	} else {
		// The fault may turn TLS on: a client that follows the members
		// from http to https (anySchemeDialer).
		cl = anySchemeServiceClient(ctx, ns, name)
	}
	sum := history.Summary{Scenario: scenario}
	defer func() {
		chaosMu.Lock()
		chaosResults = append(chaosResults, sum)
		chaosMu.Unlock()
	}()
	for round := 1; round <= chaosRounds(); round++ {
		By(fmt.Sprintf("%s, round %d", scenario, round))
		r := checkedRun(ctx, cl, fmt.Sprintf("/chaos/%d/", round), fmt.Sprintf("chaos-%s-%d.html", ns, round),
			func() { fault(ctx, ns, name, round) })
		res, watchBad, lost, gap := r.res, r.watchBad, r.lost, r.gap
		sum.AddRound(res, watchBad, lost, gap)
		hashClient, eps := hashKVClient(ctx, ns, name, cl, created.TLSEnabled())
		hctx, cancel := context.WithTimeout(ctx, time.Minute)
		rep, err := history.HashKVEqual(hctx, hashClient, eps)
		cancel()
		Expect(err).NotTo(HaveOccurred())
		if !rep.Equal {
			sum.Violations++
		}
		GinkgoWriter.Printf("%s round %d: %d operations, linearizable %v, watch violations %d, lost %d, max write unavailability %v, %s\n",
			scenario, round, res.Operations, res.Linearizable, len(watchBad), len(lost), gap, rep)
		Expect(res.Linearizable).To(BeTrue(), res.Description)
		Expect(watchBad).To(BeEmpty())
		Expect(lost).To(BeEmpty())
		Expect(rep.Equal).To(BeTrue(), rep.String())
	}
}

// checkedRun is one round of the checked workload: 4 clients put and get
// 3 keys under prefix through cl from 2 s before during runs until 2 s
// after, and the history is checked (linearizable per key, every
// acknowledged write in the final reads and in a watch opened before).
// A failed linearizability check writes a porcupine visualization named
// viz into the temporary directory.
func checkedRun(ctx SpecContext, cl *clientv3.Client, prefix, viz string, during func()) checkedRound {
	rec, err := history.NewRecorder(ctx, cl, prefix)
	Expect(err).NotTo(HaveOccurred())
	w := history.Watch(ctx, cl, rec.Prefix(), rec.StartRevision()+1)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		rec.Run(runCtx, history.Workload{Clients: 4, Keys: 3, OpTimeout: 2 * time.Second})
	}()
	time.Sleep(2 * time.Second)
	during()
	time.Sleep(2 * time.Second)
	stop()
	<-done

	h := rec.History()
	res, err := history.Check(h, history.CheckOptions{VisualizationPath: filepath.Join(os.TempDir(), viz)})
	Expect(err).NotTo(HaveOccurred())
	final, err := history.ReadFinal(ctx, cl, h)
	Expect(err).NotTo(HaveOccurred())
	stream, err := w.Wait(ctx, final.Revision)
	Expect(err).NotTo(HaveOccurred())
	return checkedRound{res: res, watchBad: history.CheckWatch(h, stream), lost: history.LostAcknowledged(h, final), gap: history.MaxUnavailability(h)}
}

// checkedRound is what checkedRun found.
type checkedRound struct {
	res      history.Result
	watchBad []string     // watch events that contradict the history
	lost     []history.Op // acknowledged writes missing afterwards
	gap      time.Duration
}

// hashKVClient is the client and member endpoints HashKV is compared
// through: the scenario's client for a cluster created with TLS; for one
// created without, plain http endpoints while TLS is still off, else a
// client with the root certificate (HashKV dials each member in the
// endpoint's scheme with the client's own credentials).
func hashKVClient(ctx context.Context, ns, name string, cl *clientv3.Client, createdTLS bool) (*clientv3.Client, []string) {
	if createdTLS {
		return cl, podEndpoints(ctx, ns, name, "https")
	}
	c := &etcdv1.EtcdCluster{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
	if !c.TLSEnabled() {
		return cl, podEndpoints(ctx, ns, name, "http")
	}
	eps := podEndpoints(ctx, ns, name, "https")
	return etcdClient(eps, clientTLS(ctx, ns, name)), eps
}

// waitSpecDone waits until the operator has seen the latest spec and has
// nothing left to do with n members.
func waitSpecDone(ctx context.Context, ns, name string, n int) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		c := &etcdv1.EtcdCluster{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		g.Expect(c.Status.ObservedGeneration).To(Equal(c.Generation))
	}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())
	waitSettled(ctx, ns, name, n)
}

// killPod deletes a pod with no grace period (its containers are killed)
// and waits for its replacement to be ready.
func killPod(ctx context.Context, ns, name string) {
	GinkgoHelper()
	Expect(name).NotTo(BeEmpty())
	pod := &corev1.Pod{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pod)).To(Succeed())
	Expect(k8s.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
	Eventually(func(g Gomega) {
		fresh := &corev1.Pod{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, fresh)).To(Succeed())
		g.Expect(fresh.UID).NotTo(Equal(pod.UID))
		g.Expect(podIsReady(fresh)).To(BeTrue())
	}).WithContext(ctx).WithTimeout(5 * time.Minute).WithPolling(time.Second).Should(Succeed())
}

func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// scaleUpStarted asks for n members and waits until the first new member
// is listed: the fault then hits a scale-up in progress.
func scaleUpStarted(ctx context.Context, ns, name string, n int32) {
	GinkgoHelper()
	scaleTo(ctx, ns, name, n)
	Eventually(func(g Gomega) {
		c := &etcdv1.EtcdCluster{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		g.Expect(len(c.Status.Members)).To(BeNumerically(">", 3))
	}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
}

func randomMember(name string) string { return fmt.Sprintf("%s-%d", name, rand.IntN(3)) }

var _ = Describe("Reliability", Label("chaos"), Serial, func() {
	It("leader pod killed", func(ctx SpecContext) {
		chaosScenario(ctx, "leader pod killed", func(ctx SpecContext, ns, name string, _ int) {
			killPod(ctx, ns, leaderPod(ctx, ns, name))
			waitSettled(ctx, ns, name, 3)
		})
	}, SpecTimeout(30*time.Minute))

	It("random member pod killed", func(ctx SpecContext) {
		chaosScenario(ctx, "random member killed", func(ctx SpecContext, ns, name string, _ int) {
			killPod(ctx, ns, randomMember(name))
			waitSettled(ctx, ns, name, 3)
		})
	}, SpecTimeout(30*time.Minute))

	It("member cut off from its peers", func(ctx SpecContext) {
		chaosScenario(ctx, "member cut off from peers", func(ctx SpecContext, ns, name string, _ int) {
			pod := &corev1.Pod{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: leaderPod(ctx, ns, name)}, pod)).To(Succeed())
			heal, err := isolatePeers(pod.Status.PodIP)
			Expect(err).NotTo(HaveOccurred())
			time.Sleep(15 * time.Second)
			Expect(heal()).To(Succeed())
			waitSettled(ctx, ns, name, 3)
		})
	}, SpecTimeout(30*time.Minute))

	It("scale 3→5→3 with the leader killed mid-scale", func(ctx SpecContext) {
		chaosScenario(ctx, "scale 3-5-3, leader killed", func(ctx SpecContext, ns, name string, _ int) {
			scaleUpStarted(ctx, ns, name, 5)
			killPod(ctx, ns, leaderPod(ctx, ns, name))
			waitSpecDone(ctx, ns, name, 5)
			scaleTo(ctx, ns, name, 3)
			waitSpecDone(ctx, ns, name, 3)
		})
	}, SpecTimeout(40*time.Minute))

	It("operator killed while scaling", func(ctx SpecContext) {
		chaosScenario(ctx, "operator killed mid-scale", func(ctx SpecContext, ns, name string, _ int) {
			scaleUpStarted(ctx, ns, name, 5)
			pods := &corev1.PodList{}
			Expect(k8s.List(ctx, pods, client.InNamespace(operatorNamespace), client.MatchingLabels{"app.kubernetes.io/name": "quorum-operator"})).To(Succeed())
			for i := range pods.Items {
				Expect(k8s.Delete(ctx, &pods.Items[i], client.GracePeriodSeconds(0))).To(Succeed())
			}
			waitSpecDone(ctx, ns, name, 5)
			scaleTo(ctx, ns, name, 3)
			waitSpecDone(ctx, ns, name, 3)
		})
	}, SpecTimeout(40*time.Minute))

	It("member volume lost", func(ctx SpecContext) {
		chaosScenario(ctx, "member volume lost", func(ctx SpecContext, ns, name string, _ int) {
			m := randomMember(name)
			c := &etcdv1.EtcdCluster{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
			oldID := ""
			for _, ms := range c.Status.Members {
				if ms.Name == m {
					oldID = ms.ID
				}
			}
			pvc := &corev1.PersistentVolumeClaim{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-" + m}, pvc)).To(Succeed())
			Expect(k8s.Delete(ctx, pvc)).To(Succeed())
			deletePod(ctx, ns, m)
			Eventually(func(g Gomega) {
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
				ids := map[string]string{}
				for _, ms := range c.Status.Members {
					ids[ms.Name] = ms.ID
				}
				g.Expect(ids).To(HaveKey(m))
				g.Expect(ids[m]).NotTo(Equal(oldID))
			}).WithContext(ctx).WithTimeout(6 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
			waitSettled(ctx, ns, name, 3)
		})
	}, SpecTimeout(40*time.Minute))

	It("rolling upgrade from etcd 3.6 to 3.7", func(ctx SpecContext) {
		prev := os.Getenv("E2E_PREV_ETCD_VERSION")
		Expect(prev).NotTo(BeEmpty(), "hack/e2e.sh sets E2E_PREV_ETCD_VERSION")
		chaosScenarioWith(ctx, "rolling upgrade 3.6-3.7", func(c *etcdv1.EtcdCluster) { c.Spec.Version = prev },
			func(ctx SpecContext, ns, name string, round int) {
				// The first round upgrades; later rounds (the version only
				// goes up) restart the members for a spec change instead.
				c := &etcdv1.EtcdCluster{}
				Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
				patch := client.MergeFrom(c.DeepCopy())
				if c.Spec.Version == prev {
					c.Spec.Version = "3.7.3"
				} else {
					c.Spec.EtcdOptions = map[string]string{"snapshot-count": strconv.Itoa(20000 + round)}
				}
				Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
				waitSpecDone(ctx, ns, name, 3)
				Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
				for _, m := range c.Status.Members {
					Expect(m.Version).To(Equal("3.7.3"), "%+v", c.Status.Members)
				}
			})
	}, SpecTimeout(40*time.Minute))

	It("rolling restart for a spec change", func(ctx SpecContext) {
		chaosScenario(ctx, "rolling restart", func(ctx SpecContext, ns, name string, round int) {
			c := &etcdv1.EtcdCluster{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
			patch := client.MergeFrom(c.DeepCopy())
			c.Spec.EtcdOptions = map[string]string{"snapshot-count": strconv.Itoa(20000 + round)}
			Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
			waitSpecDone(ctx, ns, name, 3)
		})
	}, SpecTimeout(40*time.Minute))

	It("TLS enabled on a running cluster", func(ctx SpecContext) {
		chaosScenarioWith(ctx, "TLS enabled on a running cluster",
			func(c *etcdv1.EtcdCluster) {
				c.Spec.TLS.Enabled, c.Spec.Auth.Enabled = ptr.To(false), ptr.To(false)
				c.Spec.Rollout.MinReadySeconds = ptr.To[int32](5) // nine restarts; see the TLS migration spec
			},
			func(ctx SpecContext, ns, name string, round int) {
				// The first round turns TLS on; later rounds (it cannot be
				// turned off) restart the members for a spec change instead.
				c := &etcdv1.EtcdCluster{}
				Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
				if !c.TLSEnabled() {
					turnTLSOn(ctx, ns, name)
					return
				}
				patch := client.MergeFrom(c.DeepCopy())
				c.Spec.EtcdOptions = map[string]string{"snapshot-count": strconv.Itoa(20000 + round)}
				Expect(k8s.Patch(ctx, c, patch)).To(Succeed())
				waitSpecDone(ctx, ns, name, 3)
			})
	}, SpecTimeout(40*time.Minute))

	It("certificate rotation", func(ctx SpecContext) {
		chaosScenario(ctx, "certificate rotation", func(ctx SpecContext, ns, name string, _ int) {
			eps := podEndpoints(ctx, ns, name, "https")
			tlsCfg := clientTLS(ctx, ns, name)
			before := map[string]string{}
			for _, ep := range eps {
				s, err := servedSerial(ep, tlsCfg)
				Expect(err).NotTo(HaveOccurred())
				before[ep] = s
			}
			for _, s := range []string{name + "-server-tls", name + "-peer-tls"} {
				Expect(k8s.Delete(ctx, &corev1.Secret{ObjectMeta: metav1ObjectMeta(ns, s)})).To(Succeed())
			}
			waitNewSerials(ctx, eps, tlsCfg, before)
		})
	}, SpecTimeout(30*time.Minute))

	// An on-demand CA rotation (issue #15): three phases, each restarting
	// every member. Besides the checked workload: Available throughout,
	// at the end every member serves a certificate from the new CA, only
	// the new CA is trusted, and a client certificate from the old CA is
	// refused by every member.
	It("CA rotation", func(ctx SpecContext) {
		chaosScenarioWith(ctx, "CA rotation", func(c *etcdv1.EtcdCluster) {
			c.Spec.Rollout.MinReadySeconds = ptr.To[int32](5) // nine restarts; settling is the undo specs' subject
		}, func(ctx SpecContext, ns, name string, round int) {
			oldCA := caPair(ctx, ns, name)
			avail := watchAvailable(ctx, ns, name)
			newCA := rotateCA(ctx, ns, name, fmt.Sprintf("chaos-%d", round))
			Expect(avail.finish()).To(BeEmpty(), "Available throughout the CA rotation")
			Expect(newCA.Equal(mustParseCert(oldCA.CertPEM))).To(BeFalse(), "a new CA signs")
			checkOnlyCA(ctx, ns, name, newCA)
			expectOldCARefused(ctx, ns, name, followingClientTLS(ctx, ns, name), oldCA)
		})
	}, SpecTimeout(40*time.Minute))

	It("backup under load", func(ctx SpecContext) {
		chaosScenario(ctx, "backup", func(ctx SpecContext, ns, name string, round int) {
			claim := fmt.Sprintf("backups-%d", round)
			Expect(k8s.Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1ObjectMeta(ns, claim), Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			}})).To(Succeed())
			b := fmt.Sprintf("b-%d", round)
			Expect(k8s.Create(ctx, &etcdv1.EtcdBackup{ObjectMeta: metav1ObjectMeta(ns, b), Spec: etcdv1.EtcdBackupSpec{
				ClusterName: name, Destination: etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: claim}}}})).To(Succeed())
			got := waitBackup(ctx, ns, b)
			Expect(got.Status.Phase).To(Equal(etcdv1.BackupSucceeded), "%+v", got.Status)
		})
	}, SpecTimeout(30*time.Minute))
	It("NOSPACE reached and recovered under load", func(ctx SpecContext) {
		// The writes etcd refuses with NOSPACE may still have been applied
		// (history.Op.Refused): the check treats them as maybe applied.
		chaosScenarioWith(ctx, "NOSPACE", func(c *etcdv1.EtcdCluster) { c.Spec.Quota.BackendBytes = &nospaceQuota },
			func(ctx SpecContext, ns, name string, _ int) {
				cl := serviceClient(ctx, ns, name, clientTLS(ctx, ns, name))
				fillUntilNoSpace(ctx, cl)
				Eventually(func(g Gomega) {
					_, reason := degradedReason(g, ctx, ns, name)
					g.Expect(reason).To(Equal(etcdv1.ReasonNoSpace))
				}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(Succeed())
				_, err := cl.Delete(op(ctx), "/fill/", clientv3.WithPrefix())
				Expect(err).NotTo(HaveOccurred())
				Eventually(func(g Gomega) {
					_, err := cl.Put(op(ctx), "/probe", "after")
					g.Expect(err).NotTo(HaveOccurred())
					_, reason := degradedReason(g, ctx, ns, name)
					g.Expect(reason).NotTo(Equal(etcdv1.ReasonNoSpace))
				}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
			})
	}, SpecTimeout(30*time.Minute))

	It("defragmentation under load", func(ctx SpecContext) {
		chaosScenario(ctx, "defragmentation", func(ctx SpecContext, ns, name string, round int) {
			cl := serviceClient(ctx, ns, name, clientTLS(ctx, ns, name))
			fragment(ctx, cl)
			start := time.Now()
			patchDefrag(ctx, ns, name, func(c *etcdv1.EtcdCluster) {
				metav1.SetMetaDataAnnotation(&c.ObjectMeta, etcdv1.AnnotationDefragment, fmt.Sprintf("chaos-%d", round))
			})
			expectDefragmented(ctx, ns, name, etcdv1.DefragTriggerRequest, start, 3)
		})
	}, SpecTimeout(30*time.Minute))
})
