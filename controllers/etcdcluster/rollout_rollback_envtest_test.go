package etcdcluster

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/render"
)

// answering stands for etcd having answered this pass; the rollout step
// calls it only to move leadership, which these passes never do.
type answering struct{ etcdclient.Client }

// The members and rollout steps against a real API server, with the test
// doing the StatefulSet controller's and the kubelet's part (envtest runs
// neither): ControllerRevisions, the StatefulSet's status, member pods.
var _ = Describe("a rollout stuck on a change that breaks members at run time", func() {
	It("rolls the StatefulSet back to the last healthy template, keeps it while the spec renders the same one, replaces the stuck member with it, and lets a fix roll out", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
		c.Spec.Rollout.ProgressDeadlineSeconds = ptr.To[int32](60)
		Expect(k8s.Create(ctx, c)).To(Succeed())
		clock := time.Now()
		rec := events.NewFakeRecorder(20)
		newReconciler := func() *Reconciler {
			return &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: rec,
				Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}, Clock: func() time.Time { return clock }}
		}
		r := newReconciler()

		sts := &appsv1.StatefulSet{}
		// members runs the members step on the cluster as stored.
		members := func() *pass {
			GinkgoHelper()
			Expect(get(ctx, ns, "db", c)()).To(Succeed())
			p := &pass{cluster: c}
			Expect(r.applyStatefulSet(ctx, p)).To(Succeed())
			Expect(get(ctx, ns, "db", sts)()).To(Succeed())
			return p
		}
		// stsController does what the StatefulSet controller does once the
		// template is written: the template's ControllerRevision, and the
		// update revision in the status.
		stsController := func(update, current string) {
			GinkgoHelper()
			Expect(get(ctx, ns, "db", sts)()).To(Succeed())
			data, err := revisionData(sts.Spec.Template)
			Expect(err).NotTo(HaveOccurred())
			cr := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: update, Namespace: ns}, Data: runtime.RawExtension{Raw: data}, Revision: 1}
			if err := k8s.Create(ctx, cr); !apierrors.IsAlreadyExists(err) {
				Expect(err).NotTo(HaveOccurred())
			}
			sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 3, ReadyReplicas: 3,
				CurrentRevision: current, UpdateRevision: update}
			Expect(k8s.Status().Update(ctx, sts)).To(Succeed())
		}
		// memberPod makes member pod i from the live template, labelled
		// with revision, either ready or OOM-killed in a crash loop.
		memberPod := func(i int, revision string, healthy bool) {
			GinkgoHelper()
			Expect(get(ctx, ns, "db", sts)()).To(Succeed())
			t := sts.Spec.Template.DeepCopy()
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("db-%d", i), Namespace: ns, Labels: t.Labels, Annotations: t.Annotations}, Spec: t.Spec}
			pod.Labels[appsv1.ControllerRevisionHashLabelKey] = revision
			pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			Expect(k8s.Create(ctx, pod)).To(Succeed())
			ready := corev1.ConditionTrue
			cs := corev1.ContainerStatus{Name: "etcd", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
			if !healthy {
				ready = corev1.ConditionFalse
				cs = corev1.ContainerStatus{Name: "etcd", RestartCount: 3,
					State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}
			}
			pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{cs},
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, LastTransitionTime: metav1.Now()}}}
			Expect(k8s.Status().Update(ctx, pod)).To(Succeed())
		}
		// rollout runs the rollout step with db-0 and db-1 answering, then
		// writes the status as the reconciler does at the end of a pass.
		rollout := func(p *pass) {
			GinkgoHelper()
			p.sts = sts
			p.client = answering{}
			p.obs = observation{contacted: true, leader: 1, voters: 3,
				list:     []etcdclient.Member{{ID: 1, Name: "db-0"}, {ID: 2, Name: "db-1"}, {ID: 3, Name: "db-2"}},
				statuses: map[uint64]etcdclient.Status{1: {MemberID: 1}, 2: {MemberID: 2}}}
			Expect(r.rollout(ctx, p)).To(Succeed())
			Expect(k8s.Status().Update(ctx, c)).To(Succeed())
		}
		memoryLimit := func() string {
			q := sts.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]
			return q.String()
		}
		warnings := func(reason string) int {
			n := 0
			for _, e := range drain(rec) {
				if strings.HasPrefix(e, "Warning "+reason+" ") {
					n++
				}
			}
			return n
		}

		By("a healthy cluster: three members on revision db-r0")
		members()
		healthy := *sts.Spec.Template.DeepCopy()
		stsController("db-r0", "db-r0")
		for i := range 3 {
			memberPod(i, "db-r0", true)
		}

		By("a memory limit etcd is OOM-killed under: written, db-2 restarted with it and crash-looping past the deadline")
		mutate(ctx, c, func(c *etcdv1.EtcdCluster) {
			c.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("20Mi")}
		})
		members()
		Expect(memoryLimit()).To(Equal("20Mi"))
		stsController("db-r1", "db-r0")
		old := &corev1.Pod{}
		Expect(get(ctx, ns, "db-2", old)()).To(Succeed())
		Expect(k8s.Delete(ctx, old)).To(Succeed())
		memberPod(2, "db-r1", false)
		clock = clock.Add(5 * time.Minute)

		By("the rollout halts, and the stuck change is recorded with the revision to roll back to")
		p := members()
		rollout(p)
		Expect(p.rolloutHalt).NotTo(BeNil())
		Expect(p.rolloutHalt.Reason).To(Equal(etcdv1.ReasonRolloutStuck))
		Expect(p.rolloutHalt.Message).To(SatisfyAll(ContainSubstring("db-2"), ContainSubstring("OOMKilled"), ContainSubstring("db-r0"),
			ContainSubstring("a member pod that restarts comes back with it"), ContainSubstring("Revert the change or fix it")))
		Expect(get(ctx, ns, "db", c)()).To(Succeed())
		stuck := c.StuckRollout()
		Expect(stuck).NotTo(BeNil())
		Expect(stuck.Pod).To(Equal("db-2"))
		Expect(stuck.Revision).To(Equal("db-r0"))
		Expect(stuck.TemplateHash).To(Equal(p.templateHash))
		Expect(stuck.Message).To(ContainSubstring("OOMKilled"))
		Expect(get(ctx, ns, "db-2", &corev1.Pod{})()).To(Succeed(), "the stuck member runs the update revision: not replaced yet")

		By("the next pass puts the last healthy template back, with one Warning")
		p = members()
		Expect(equality.Semantic.DeepEqual(sts.Spec.Template, healthy)).To(BeTrue(), "not the healthy template (memory limit %q)", memoryLimit())
		Expect(p.rolloutHalt).NotTo(BeNil())
		Expect(p.rolloutHalt.Reason).To(Equal(etcdv1.ReasonRolloutStuck))
		Expect(warnings(etcdv1.ReasonRolloutRolledBack)).To(Equal(1))

		By("the StatefulSet controller makes db-r0 the update revision again: db-2, outdated and broken, is replaced at once")
		stsController("db-r0", "db-r0")
		Expect(get(ctx, ns, "db", sts)()).To(Succeed())
		rollout(p)
		Expect(apierrors.IsNotFound(get(ctx, ns, "db-2", &corev1.Pod{})())).To(BeTrue(), "the stuck member was not replaced")
		Expect(drain(rec)).To(ContainElement(SatisfyAll(HavePrefix("Warning BrokenMemberReplaced "),
			ContainSubstring("restarting db-2 with the last healthy spec"), Not(ContainSubstring("new spec")))))
		Expect(p.rolloutHalt.Reason).To(Equal(etcdv1.ReasonRolloutStuck))
		memberPod(2, "db-r0", true)

		By("passes go on, and the operator restarts, while the spec is unchanged: the healthy template stays, no new Warning")
		for _, restarted := range []bool{false, false, true} {
			if restarted {
				r = newReconciler()
			}
			p = members()
			Expect(equality.Semantic.DeepEqual(sts.Spec.Template, healthy)).To(BeTrue(), "not the healthy template (memory limit %q)", memoryLimit())
			Expect(memoryLimit()).To(Equal("0"))
			rollout(p)
			Expect(p.rolloutHalt).NotTo(BeNil())
			Expect(p.rolloutHalt.Reason).To(Equal(etcdv1.ReasonRolloutStuck))
			Expect(c.StuckRollout()).NotTo(BeNil())
		}
		Expect(warnings(etcdv1.ReasonRolloutRolledBack)).To(BeZero())
		for i := range 3 {
			Expect(get(ctx, ns, fmt.Sprintf("db-%d", i), &corev1.Pod{})()).To(Succeed(), "a member was restarted")
		}

		By("a fix: the record is cleared and the spec's template is written")
		mutate(ctx, c, func(c *etcdv1.EtcdCluster) {
			c.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}
		})
		p = members()
		Expect(c.StuckRollout()).To(BeNil())
		Expect(c.Status.Rollout).To(BeNil())
		Expect(memoryLimit()).To(Equal("512Mi"))
		Expect(p.rolloutHalt).To(BeNil())
		Expect(k8s.Status().Update(ctx, c)).To(Succeed())
		Expect(get(ctx, ns, "db", c)()).To(Succeed())
		Expect(c.Status.Rollout).To(BeNil(), "the cleared record was stored")
	})
})

// mutate changes the cluster's spec as stored, and reads it back into c.
func mutate(ctx SpecContext, c *etcdv1.EtcdCluster, f func(*etcdv1.EtcdCluster)) {
	GinkgoHelper()
	Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
	f(c)
	Expect(k8s.Update(ctx, c)).To(Succeed())
}
