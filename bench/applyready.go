package bench

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"quorum.dev/etcd-operator/internal/version"

	clientv3 "go.etcd.io/etcd/client/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

var applyReadyBench = Bench{
	Name: "apply-ready",
	Doc: "time from creating an EtcdCluster (1 and 3 members) to Ready and to the first acknowledged write; " +
		"the floor: the same image in a hand-written StatefulSet, plain http, to the first write",
	NeedsCluster: true,
	Run:          applyReady,
}

// etcdImage is the bundled server image the local cluster has loaded,
// the one an EtcdCluster of the default version runs.
var etcdImage = "quorum.dev/etcd-server:3.7.3" + version.ServerTagSuffix()

func applyReady(ctx context.Context, env Env) ([]Value, error) {
	return withNamespace(ctx, env, "apply", func(k *kube, ns string) ([]Value, error) {
		var out []Value
		for _, n := range []int{1, 3} {
			vs, err := applyManaged(ctx, env, k, ns, n)
			if err != nil {
				return out, err
			}
			out = append(out, vs...)
			vs, err = applyFloor(ctx, env, k, ns, n)
			if err != nil {
				return out, err
			}
			out = append(out, vs...)
		}
		return out, nil
	})
}

func memberCount(n int) string {
	if n == 1 {
		return "1 member"
	}
	return fmt.Sprintf("%d members", n)
}

// applyManaged creates an EtcdCluster of n members and measures the time
// to its first acknowledged write and to Ready, then deletes it.
func applyManaged(ctx context.Context, env Env, k *kube, ns string, n int) ([]Value, error) {
	name := fmt.Sprintf("ready%d", n)
	c := newCluster(ns, name, int32(n), nil)
	start := time.Now()
	if err := k.Create(ctx, c); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()
	wrote := make(chan error, 1)
	var firstWrite time.Duration
	go func() {
		err := untilPut(wctx, func(ctx context.Context) ([]string, *tls.Config, error) {
			tlsCfg, err := k.clientTLS(ctx, ns, name)
			if err != nil {
				return nil, nil, err
			}
			pods, err := k.memberPods(ctx, ns, name)
			return podEndpoints(pods, "https"), tlsCfg, err
		})
		firstWrite = time.Since(start)
		wrote <- err
	}()
	if _, err := k.waitReady(ctx, ns, name, n); err != nil {
		return nil, err
	}
	toReady := time.Since(start)
	if err := <-wrote; err != nil {
		return nil, fmt.Errorf("first write to %s: %w", name, err)
	}
	env.Logf("apply-ready: operator, %s: first write after %s, Ready after %s", memberCount(n),
		firstWrite.Round(time.Millisecond), toReady.Round(time.Millisecond))
	if err := k.deleteAndWaitPods(ctx, c, ns, name); err != nil {
		return nil, err
	}
	prefix := "operator, " + memberCount(n)
	return []Value{
		{prefix + ": apply→first write", "s", seconds(firstWrite)},
		{prefix + ": apply→Ready", "s", seconds(toReady)},
	}, nil
}

// applyFloor runs the same image without the operator: a headless Service
// and a StatefulSet of n members speaking plain http, configured through
// quorum-etcd's environment; it measures the time to the first
// acknowledged write and to all pods ready, then deletes them.
func applyFloor(ctx context.Context, env Env, k *kube, ns string, n int) ([]Value, error) {
	name := fmt.Sprintf("floor%d", n)
	svc, sts := floorObjects(ns, name, n)
	start := time.Now()
	if err := k.Create(ctx, svc); err != nil {
		return nil, err
	}
	if err := k.Create(ctx, sts); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()
	err := untilPut(wctx, func(ctx context.Context) ([]string, *tls.Config, error) {
		pods := &corev1.PodList{}
		if err := k.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{"app": name}); err != nil {
			return nil, nil, err
		}
		return podEndpoints(pods.Items, "http"), nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("first write to %s: %w", name, err)
	}
	firstWrite := time.Since(start)
	for {
		if err := k.Get(wctx, client.ObjectKeyFromObject(sts), sts); err != nil {
			return nil, err
		}
		if sts.Status.ReadyReplicas == int32(n) {
			break
		}
		if err := sleep(wctx, pollEvery); err != nil {
			return nil, fmt.Errorf("%s: pods not ready: %w", name, err)
		}
	}
	toReady := time.Since(start)
	env.Logf("apply-ready: StatefulSet, %s: first write after %s, all pods ready after %s", memberCount(n),
		firstWrite.Round(time.Millisecond), toReady.Round(time.Millisecond))
	if err := k.Delete(ctx, svc); err != nil {
		return nil, err
	}
	if err := k.deleteAndWaitPodsLabeled(ctx, sts, ns, map[string]string{"app": name}); err != nil {
		return nil, err
	}
	prefix := "no operator (StatefulSet, http), " + memberCount(n)
	return []Value{
		{prefix + ": apply→first write", "s", seconds(firstWrite)},
		{prefix + ": apply→all pods ready", "s", seconds(toReady)},
	}, nil
}

// untilPut tries a put every pollEvery through the endpoints that targets
// returns, until one is acknowledged.
func untilPut(ctx context.Context, targets func(context.Context) ([]string, *tls.Config, error)) error {
	var (
		cl   *clientv3.Client
		eps  []string
		last error
	)
	defer func() {
		if cl != nil {
			_ = cl.Close()
		}
	}()
	for {
		now, tlsCfg, err := targets(ctx)
		if err == nil && len(now) > 0 {
			if !slices.Equal(now, eps) {
				if cl != nil {
					_ = cl.Close()
				}
				cl, err = etcdClient(now, tlsCfg)
				eps = now
			}
			if err == nil {
				pctx, cancel := context.WithTimeout(ctx, time.Second)
				_, err = cl.Put(pctx, "/bench/first", "x")
				cancel()
				if err == nil {
					return nil
				}
			}
		}
		if err != nil {
			last = err
		}
		if err := sleep(ctx, pollEvery); err != nil {
			return fmt.Errorf("%w (last: %v)", err, last)
		}
	}
}

// deleteAndWaitPods deletes an EtcdCluster and waits until its pods are
// gone, so that the next measurement has the machine to itself.
func (k *kube) deleteAndWaitPods(ctx context.Context, obj client.Object, ns, name string) error {
	return k.deleteAndWaitPodsLabeled(ctx, obj, ns, map[string]string{etcdv1.LabelInstance: name})
}

func (k *kube) deleteAndWaitPodsLabeled(ctx context.Context, obj client.Object, ns string, labels map[string]string) error {
	if err := k.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		pods := &corev1.PodList{}
		if err := k.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil {
			return err
		}
		if len(pods.Items) == 0 {
			return nil
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return fmt.Errorf("pods of %s not gone: %w", obj.GetName(), err)
		}
	}
}

// floorObjects are the hand-written headless Service and StatefulSet of
// the no-operator floor: same image, same volume claim and security
// settings as the operator's, no TLS, no auth, nothing else.
func floorObjects(ns, name string, n int) (*corev1.Service, *appsv1.StatefulSet) {
	labels := map[string]string{"app": name}
	peerSvc := name + "-peer"
	var initial []string
	for i := range n {
		initial = append(initial, fmt.Sprintf("%s-%d=http://%s-%d.%s.%s.svc.%s:%d", name, i, name, i, peerSvc, ns, etcdv1.DefaultClusterDomain, etcdv1.PeerPort))
	}
	token := make([]byte, 6)
	_, _ = rand.Read(token)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: peerSvc, Namespace: ns, Labels: labels},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, PublishNotReadyAddresses: true, Selector: labels,
			Ports: []corev1.ServicePort{
				{Name: "client", Port: etcdv1.ClientPort, TargetPort: intstr.FromInt32(etcdv1.ClientPort)},
				{Name: "peer", Port: etcdv1.PeerPort, TargetPort: intstr.FromInt32(etcdv1.PeerPort)},
			},
		},
	}
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	probe := func(path string, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(etcdv1.MetricsPort)}},
			PeriodSeconds: 5, TimeoutSeconds: 3, FailureThreshold: failures,
		}
	}
	sts := benchStatefulSet(ns, name, peerSvc, n, corev1.PodSpec{
		AutomountServiceAccountToken: ptr.To(false),
		EnableServiceLinks:           ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532), RunAsGroup: ptr.To[int64](65532), FSGroup: ptr.To[int64](65532),
		},
		Containers: []corev1.Container{{
			Name:            "etcd",
			Image:           etcdImage,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Args:            []string{"serve"},
			Env: []corev1.EnvVar{
				field("POD_NAME", "metadata.name"),
				field("POD_NAMESPACE", "metadata.namespace"),
				{Name: "QUORUM_PEER_SERVICE", Value: peerSvc},
				{Name: "QUORUM_INITIAL_CLUSTER", Value: strings.Join(initial, ",")},
				{Name: "QUORUM_INITIAL_CLUSTER_STATE", Value: "new"},
				{Name: "QUORUM_CLUSTER_TOKEN", Value: name + "-" + hex.EncodeToString(token)},
			},
			Ports: []corev1.ContainerPort{
				{Name: "client", ContainerPort: etcdv1.ClientPort},
				{Name: "peer", ContainerPort: etcdv1.PeerPort},
				{Name: "metrics", ContainerPort: etcdv1.MetricsPort},
			},
			VolumeMounts:   []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/etcd"}},
			StartupProbe:   probe("/livez", 60),
			ReadinessProbe: probe("/readyz", 2),
		}},
	})
	sts.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
	}
	return svc, sts
}

// benchStatefulSet is the skeleton of the benches' hand-written
// StatefulSets: n pods labelled app=name started in parallel, governed by
// the headless Service serviceName, each with a 1Gi "data" claim of the
// default storage class; spec is the pod spec.
func benchStatefulSet(ns, name, serviceName string, n int, spec corev1.PodSpec) *appsv1.StatefulSet {
	labels := map[string]string{"app": name}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(int32(n)),
			ServiceName:         serviceName,
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: labels},
			Template:            corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: apiresource.MustParse("1Gi")}},
				},
			}},
		},
	}
}
