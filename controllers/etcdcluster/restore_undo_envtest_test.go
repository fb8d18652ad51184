package etcdcluster

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/testenv"
	"quorum.dev/etcd-operator/controllers/render"
)

// The cluster's side of an in-place restore that fails on the members,
// against a real API server, with the test playing the StatefulSet
// controller and the kubelet (member pods and their init containers'
// statuses): the failure is seen, the bootstrap state goes back to what
// the members had, the template carries the undo, and every member pod
// not made from it is restarted.
var _ = Describe("an in-place restore that fails on the members", func() {
	It("records the cause, puts the bootstrap state back, renders the undo and restarts every member", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3)}}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		x := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: ns}, Spec: etcdv1.EtcdRestoreSpec{ClusterName: "db", Key: "snap.db",
			Source: &etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", CredentialsSecretName: "creds"}}}}
		Expect(k8s.Create(ctx, x)).To(Succeed())
		now := metav1.Now()
		x.Status = etcdv1.EtcdRestoreStatus{Phase: etcdv1.RestoreRestoring, RestoreID: "r1", StartTime: &now}
		Expect(k8s.Status().Update(ctx, x)).To(Succeed())

		clock := time.Now()
		rec := events.NewFakeRecorder(20)
		r := &Reconciler{Client: k8s, APIReader: k8s, Scheme: k8s.Scheme(), Recorder: rec,
			Render: render.Options{ImageRepository: "quorum.dev/etcd-server"}, Clock: func() time.Time { return clock }}
		cm := &corev1.ConfigMap{}
		sts := &appsv1.StatefulSet{}
		// restoreSteps runs the config, restore source, members and restore
		// in place steps, then saves the status as setStatus would.
		restoreSteps := func() *pass {
			GinkgoHelper()
			Expect(get(ctx, ns, "db", c)()).To(Succeed())
			p := &pass{cluster: c}
			Expect(r.applyConfig(ctx, p)).To(Succeed())
			Expect(r.resolveRestore(ctx, p)).To(Succeed())
			Expect(r.applyStatefulSet(ctx, p)).To(Succeed())
			Expect(r.stopOldMembers(ctx, p)).To(Succeed())
			Expect(k8s.Status().Update(ctx, c)).To(Succeed())
			Expect(get(ctx, ns, c.ConfigMapName(), cm)()).To(Succeed())
			Expect(get(ctx, ns, "db", sts)()).To(Succeed())
			return p
		}

		By("the cluster had formed: its ConfigMap says existing")
		p := &pass{cluster: c}
		Expect(r.applyConfig(ctx, p)).To(Succeed())
		formed := "db-0=http://old:2380"
		Expect(r.setBootstrap(ctx, p, "test", func(b *render.Bootstrap) { b.State, b.InitialCluster = render.StateExisting, formed })).To(Succeed())

		By("the restore starts: the members get the restore's template")
		restoreSteps()
		Expect(c.Status.Restore).NotTo(BeNil())
		Expect(c.Status.Restore.PreviousInitialCluster).To(Equal(formed))
		Expect(c.Status.Restore.PreviousInitialClusterState).To(Equal(render.StateExisting))
		Expect(cm.Data[render.ConfigKeyRestoreID]).To(Equal("r1"))
		Expect(sts.Spec.Template.Annotations[render.AnnotationRestoreID]).To(Equal("r1"))

		By("the kubelet: member pods from that template; db-1's restore fails again and again, db-0 already came up from the snapshot")
		for i := 0; i < 3; i++ {
			t := sts.Spec.Template.DeepCopy()
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("db-%d", i), Namespace: ns, Labels: t.Labels, Annotations: t.Annotations}, Spec: t.Spec}
			pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			Expect(k8s.Create(ctx, pod)).To(Succeed())
			cs := corev1.ContainerStatus{Name: "restore", Image: t.Spec.InitContainers[0].Image, ImageID: "x"}
			switch i {
			case 0:
				cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: 0}
			case 1:
				cs.RestartCount = 2
				cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
				cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Message: "restore failed: s3://bkt/snap.db does not exist"}
			default:
				cs.State.Running = &corev1.ContainerStateRunning{}
			}
			pod.Status.InitContainerStatuses = []corev1.ContainerStatus{cs}
			Expect(k8s.Status().Update(ctx, pod)).To(Succeed())
		}

		By("the next pass sees the failure and undoes the restore")
		restoreSteps()
		Expect(c.Status.Restore.Failure).To(Equal("the restore init container of db-1 failed 3 times: restore failed: s3://bkt/snap.db does not exist"))
		Expect(cm.Data[render.ConfigKeyRestoreID]).To(BeEmpty(), "no member restores any more")
		Expect(cm.Data[render.ConfigKeyInitialCluster]).To(Equal(formed))
		Expect(cm.Data[render.ConfigKeyInitialState]).To(Equal(render.StateExisting))
		tpl := sts.Spec.Template
		Expect(tpl.Annotations).To(HaveKeyWithValue(render.AnnotationRestoreUndone, "r1"))
		Expect(tpl.Annotations).NotTo(HaveKey(render.AnnotationRestoreID))
		Expect(tpl.Spec.InitContainers).To(HaveLen(1))
		Expect(tpl.Spec.InitContainers[0].Name).To(Equal(render.UndoContainerName))
		pods := &corev1.PodList{}
		Expect(k8s.List(ctx, pods, client.InNamespace(ns))).To(Succeed())
		for _, pod := range pods.Items {
			Expect(pod.DeletionTimestamp).NotTo(BeNil(), "%s was not restarted (partly restored members too)", pod.Name)
		}
		var warned []string
		evs := testenv.Drain(rec)
		for _, e := range evs {
			if strings.Contains(e, "RestoreRollingBack") {
				warned = append(warned, e)
			}
		}
		Expect(evs).To(ContainElement(ContainSubstring("restarted 3 member pod(s) to put them back on their data from before the restore")), "%q", evs)
		Expect(warned).To(HaveLen(1))
		Expect(warned[0]).To(ContainSubstring("putting every member back on its data from before the restore"))

		By("a later pass keeps the cause and does not announce it again")
		restoreSteps()
		Expect(c.Status.Restore.Failure).To(HavePrefix("the restore init container of db-1"))
		for _, e := range testenv.Drain(rec) {
			Expect(e).NotTo(ContainSubstring("RestoreRollingBack"))
		}
	})
})
