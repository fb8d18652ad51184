package etcdcluster

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/internal/testenv"
	"quorum.dev/etcd-operator/controllers/render"
)

// unreachableEtcd fails every member list at once, as a cluster whose
// members refuse connections (no etcd runs in envtest; a real client would
// wait for its request timeout).
type unreachableEtcd struct{ etcdclient.Client }

func (unreachableEtcd) MemberList(context.Context) (uint64, []etcdclient.Member, error) {
	return 0, nil, errors.New("listing members: connection refused")
}
func (unreachableEtcd) Close() error { return nil }

// The reconciler runs in a manager of its own with the watches of
// SetupWithManager, but every periodic requeue is dropped: what happens
// here is driven by watch events alone.
var _ = Describe("EtcdCluster driven by watches alone", Ordered, func() {
	const timeout, poll = 20 * time.Second, 50 * time.Millisecond
	// passes counts the passes run; quiet waits until none ran for 0.7 s,
	// so that what follows is driven by the next event, not by the
	// passes of the last one (each status patch is an event too).
	var passes atomic.Int64
	quiet := func() {
		last := int64(-1)
		EventuallyWithOffset(1, func() bool { n := passes.Load(); same := n == last; last = n; return same }, timeout, 700*time.Millisecond).Should(BeTrue())
	}

	BeforeAll(func() {
		mgr, err := ctrl.NewManager(restConfig, ctrl.Options{Scheme: testenv.Scheme(), Metrics: metricsserver.Options{BindAddress: "0"}})
		Expect(err).NotTo(HaveOccurred())
		cache := etcdclient.NewClientCache()
		cache.New = func(etcdclient.Config) (etcdclient.Client, error) { return unreachableEtcd{}, nil }
		r := &Reconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), APIReader: mgr.GetAPIReader(),
			Recorder: mgr.GetEventRecorder("quorum-operator"), Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}, Clients: cache}
		noRequeue := reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
			_, err := r.Reconcile(ctx, req)
			passes.Add(1)
			return reconcile.Result{}, err
		})
		Expect(controllerFor(mgr).Named("etcdcluster-watches").Complete(noRequeue)).To(Succeed())
		ctx, cancel := context.WithCancel(context.Background())
		DeferCleanup(cancel)
		go func() {
			defer GinkgoRecover()
			Expect(mgr.Start(ctx)).To(Succeed())
		}()
	})

	// memberPod creates a member pod scheduled to a node (so that deleting
	// it leaves it Terminating, as the kubelet would until it stops), with
	// the etcd container running and Ready as given.
	memberPod := func(ctx SpecContext, c *etcdv1.EtcdCluster, ordinal int, ready bool) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: c.MemberName(ordinal), Namespace: c.Namespace, Labels: c.SelectorLabels()},
			Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: render.ContainerName, Image: "etcd"}}}}
		ExpectWithOffset(1, k8s.Create(ctx, pod)).To(Succeed())
		setReady(ctx, pod, ready)
	}

	It("counts a member pod's readiness change in status.readyReplicas within 2 s, and a pod being deleted as not ready", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "flip", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		for i := 0; i < 3; i++ {
			memberPod(ctx, c, i, true)
		}
		readyReplicas := func() int32 {
			got := &etcdv1.EtcdCluster{}
			Expect(get(ctx, ns, c.Name, got)()).To(Succeed())
			return got.Status.ReadyReplicas
		}
		Eventually(readyReplicas, timeout, poll).Should(Equal(int32(3)), "three ready member pods (no StatefulSet controller runs: its status says 0)")

		By("one pod turns not ready")
		quiet()
		pod := &corev1.Pod{}
		Expect(get(ctx, ns, c.MemberName(1), pod)()).To(Succeed())
		setReady(ctx, pod, false)
		Eventually(readyReplicas, 2*time.Second, poll).Should(Equal(int32(2)))

		By("every pod is deleted at once: still Ready, but Terminating")
		quiet()
		for i := 0; i < 3; i++ {
			Expect(k8s.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: c.MemberName(i), Namespace: ns}})).To(Succeed())
		}
		Eventually(func(g Gomega) {
			got := &etcdv1.EtcdCluster{}
			g.Expect(get(ctx, ns, c.Name, got)()).To(Succeed())
			g.Expect(got.Status.ReadyReplicas).To(BeZero())
			a := meta.FindStatusCondition(got.Status.Conditions, etcdv1.ConditionAvailable)
			g.Expect(a).NotTo(BeNil())
			g.Expect(a.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(a.Message).To(ContainSubstring("flip-0, flip-1, flip-2: pod is being deleted"))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, etcdv1.ConditionReady)).To(BeFalse())
		}, 2*time.Second, poll).Should(Succeed())
	})

	It("changes nothing of a paused cluster, says so, and proceeds once resumed", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "frozen", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](1)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		sts, svc := &appsv1.StatefulSet{}, &corev1.Service{}
		Eventually(get(ctx, ns, c.StatefulSetName(), sts), timeout, poll).Should(Succeed())
		Eventually(get(ctx, ns, c.ClientServiceName(), svc), timeout, poll).Should(Succeed())

		By("pausing")
		patchCluster(ctx, c, `{"metadata":{"annotations":{"etcd.quorum.dev/paused":"true"}}}`)
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, c.Name, c)()).To(Succeed())
			p := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionPaused)
			g.Expect(p).NotTo(BeNil())
			g.Expect(p.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(p.Message).To(ContainSubstring("until the annotation is removed"))
			r := meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionReady)
			g.Expect(r).NotTo(BeNil())
			g.Expect(r.Reason).To(Equal(etcdv1.ReasonPaused))
			g.Expect(c.Status.Reason).To(Equal(etcdv1.ReasonPaused))
		}, timeout, poll).Should(Succeed())
		Eventually(eventReasons(ctx, ns), timeout, poll).Should(ContainElement(etcdv1.ReasonPaused))
		Expect(get(ctx, ns, c.StatefulSetName(), sts)()).To(Succeed())
		Expect(get(ctx, ns, c.ClientServiceName(), svc)()).To(Succeed())
		observed := c.Status.ObservedGeneration

		By("scaling and annotating the client Service while paused: nothing changes")
		patchCluster(ctx, c, `{"spec":{"replicas":3,"service":{"annotations":{"example.com/team":"storage"}}}}`)
		Consistently(func(g Gomega) {
			now, nowSvc, got := &appsv1.StatefulSet{}, &corev1.Service{}, &etcdv1.EtcdCluster{}
			g.Expect(get(ctx, ns, c.StatefulSetName(), now)()).To(Succeed())
			g.Expect(now.ResourceVersion).To(Equal(sts.ResourceVersion), "StatefulSet untouched")
			g.Expect(ptr.Deref(now.Spec.Replicas, 0)).To(Equal(int32(1)))
			g.Expect(get(ctx, ns, c.ClientServiceName(), nowSvc)()).To(Succeed())
			g.Expect(nowSvc.ResourceVersion).To(Equal(svc.ResourceVersion), "client Service untouched")
			g.Expect(get(ctx, ns, c.Name, got)()).To(Succeed())
			g.Expect(got.Status.ObservedGeneration).To(Equal(observed), "the spec change waits")
		}, 3*time.Second, 200*time.Millisecond).Should(Succeed())

		By("resuming")
		patchCluster(ctx, c, `{"metadata":{"annotations":{"etcd.quorum.dev/paused":null}}}`)
		Eventually(func(g Gomega) {
			g.Expect(get(ctx, ns, c.ClientServiceName(), svc)()).To(Succeed())
			g.Expect(svc.Annotations).To(HaveKeyWithValue("example.com/team", "storage"))
			g.Expect(get(ctx, ns, c.Name, c)()).To(Succeed())
			g.Expect(meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionPaused)).To(BeNil())
			g.Expect(meta.FindStatusCondition(c.Status.Conditions, etcdv1.ConditionReady).Reason).NotTo(Equal(etcdv1.ReasonPaused))
		}, timeout, poll).Should(Succeed())
		Eventually(eventReasons(ctx, ns), timeout, poll).Should(ContainElement(etcdv1.ReasonResumed))
	})
})

// setReady writes the pod's status as the kubelet would: Running, the
// etcd container running, Ready as given.
func setReady(ctx context.Context, pod *corev1.Pod, ready bool) {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: render.ContainerName, Image: "etcd", Ready: ready,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}
	ExpectWithOffset(1, k8s.Status().Update(ctx, pod)).To(Succeed())
}

func patchCluster(ctx context.Context, c *etcdv1.EtcdCluster, patch string) {
	ExpectWithOffset(1, k8s.Patch(ctx, c, client.RawPatch("application/merge-patch+json", []byte(patch)))).To(Succeed())
}

// eventReasons lists the reasons of the events in ns.
func eventReasons(ctx context.Context, ns string) func() []string {
	return func() []string {
		evs := &eventsv1.EventList{}
		Expect(k8s.List(ctx, evs, client.InNamespace(ns))).To(Succeed())
		var out []string
		for _, e := range evs.Items {
			out = append(out, e.Reason)
		}
		return out
	}
}
