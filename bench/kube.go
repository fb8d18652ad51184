package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
)

// kube is a client of the real cluster (Env.Kubeconfig) with the helpers
// the cluster benches share: a namespace per run, EtcdClusters and etcd
// clients that reach members from the host (pod IPs and Service ClusterIPs
// are routed to the host).
type kube struct {
	client.Client
	env Env
}

// pollEvery is how often the cluster benches look at status: the timing
// resolution of "time to Ready" and the like.
const pollEvery = 100 * time.Millisecond

func newKube(env Env) (*kube, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %w", env.Kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(etcdv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	return &kube{Client: c, env: env}, nil
}

// withNamespace creates a namespace bench-<prefix>-xxxxx, runs f in it and
// deletes it, waiting until it is gone, even when ctx is done (the runner
// stops a child with SIGTERM on timeout).
func withNamespace(ctx context.Context, env Env, prefix string, f func(k *kube, ns string) ([]Value, error)) ([]Value, error) {
	k, err := newKube(env)
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-" + prefix + "-"}}
	if err := k.Create(ctx, ns); err != nil {
		return nil, fmt.Errorf("creating namespace: %w", err)
	}
	env.Logf("%s: namespace %s", prefix, ns.Name)
	out, err := f(k, ns.Name)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	if derr := k.deleteNamespace(dctx, ns.Name); derr != nil {
		err = errors.Join(err, derr)
	} else {
		env.Logf("%s: namespace %s deleted in %s", prefix, ns.Name, time.Since(t0).Round(time.Second))
	}
	return out, err
}

// deleteNamespace deletes ns and waits until it is gone.
func (k *kube) deleteNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k.Delete(ctx, ns); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting namespace %s: %w", name, err)
	}
	for {
		err := k.Get(ctx, client.ObjectKey{Name: name}, ns)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err := sleep(ctx, time.Second); err != nil {
			return fmt.Errorf("namespace %s not gone: %w", name, err)
		}
	}
}

// newCluster is an EtcdCluster of n members; mut adjusts it.
func newCluster(ns, name string, n int32, mut func(*etcdv1.EtcdCluster)) *etcdv1.EtcdCluster {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: etcdv1.EtcdClusterSpec{Replicas: &n}}
	if mut != nil {
		mut(c)
	}
	return c
}

// tlsOff turns TLS and auth off.
func tlsOff(c *etcdv1.EtcdCluster) {
	off := false
	c.Spec.TLS.Enabled = &off
	c.Spec.Auth.Enabled = &off
}

func (k *kube) cluster(ctx context.Context, ns, name string) (*etcdv1.EtcdCluster, error) {
	c := &etcdv1.EtcdCluster{}
	return c, k.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)
}

// ready: Available, n ready pods and n healthy members in the status.
func ready(c *etcdv1.EtcdCluster, n int) bool {
	if !meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionAvailable) || c.Status.ReadyReplicas != int32(n) {
		return false
	}
	return healthyMembers(c) == n
}

func healthyMembers(c *etcdv1.EtcdCluster) int {
	h := 0
	for _, m := range c.Status.Members {
		if m.Healthy {
			h++
		}
	}
	return h
}

// settled: the operator has seen the latest spec and has nothing left to
// do: ready with exactly n voters, none a learner, not progressing.
func settled(c *etcdv1.EtcdCluster, n int) bool {
	if c.Status.ObservedGeneration != c.Generation || !ready(c, n) || len(c.Status.Members) != n {
		return false
	}
	if !meta.IsStatusConditionFalse(c.Status.Conditions, etcdv1.ConditionProgressing) {
		return false
	}
	for _, m := range c.Status.Members {
		if m.Role == etcdv1.RoleLearner {
			return false
		}
	}
	return true
}

// waitCluster polls the cluster until cond holds, for at most timeout.
func (k *kube) waitCluster(ctx context.Context, ns, name string, timeout time.Duration, what string, cond func(*etcdv1.EtcdCluster) bool) (*etcdv1.EtcdCluster, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *etcdv1.EtcdCluster
	for {
		c, err := k.cluster(ctx, ns, name)
		if err == nil && cond(c) {
			return c, nil
		}
		if err == nil {
			last = c
		}
		if err := sleep(ctx, pollEvery); err != nil {
			if last != nil {
				return nil, fmt.Errorf("%s/%s not %s within %s: conditions %s, members %s", ns, name, what, timeout, conditions(last), members(last))
			}
			return nil, fmt.Errorf("%s/%s not %s within %s: %w", ns, name, what, timeout, err)
		}
	}
}

// waitReady waits until the cluster is ready with n members.
func (k *kube) waitReady(ctx context.Context, ns, name string, n int) (*etcdv1.EtcdCluster, error) {
	return k.waitCluster(ctx, ns, name, 6*time.Minute, "ready", func(c *etcdv1.EtcdCluster) bool { return ready(c, n) })
}

// waitSettled waits until the cluster is settled with n members and n pods.
func (k *kube) waitSettled(ctx context.Context, ns, name string, n int) (*etcdv1.EtcdCluster, error) {
	return k.waitCluster(ctx, ns, name, 8*time.Minute, "settled", func(c *etcdv1.EtcdCluster) bool {
		if !settled(c, n) {
			return false
		}
		pods, err := k.memberPods(ctx, ns, name)
		return err == nil && len(pods) == n
	})
}

func conditions(c *etcdv1.EtcdCluster) string {
	var parts []string
	for _, cd := range c.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s(%s: %s)", cd.Type, cd.Status, cd.Reason, cd.Message))
	}
	return strings.Join(parts, ", ")
}

func members(c *etcdv1.EtcdCluster) string {
	var parts []string
	for _, m := range c.Status.Members {
		parts = append(parts, fmt.Sprintf("%s %s healthy=%v", m.Name, m.Role, m.Healthy))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// leader is the member that leads, from the status.
func leader(c *etcdv1.EtcdCluster) string {
	for _, m := range c.Status.Members {
		if m.Role == etcdv1.RoleLeader {
			return m.Name
		}
	}
	return ""
}

// memberPods are the live (not deleted) member pods of the cluster (not
// those of its backup jobs).
func (k *kube) memberPods(ctx context.Context, ns, name string) ([]corev1.Pod, error) {
	pods := &corev1.PodList{}
	if err := k.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{
		etcdv1.LabelInstance: name, etcdv1.LabelName: etcdv1.NameValue, etcdv1.LabelComponent: "etcd"}); err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// podEndpoints are the client URLs of the pods by IP, except those named
// in skip: the host reaches pod IPs, not cluster DNS names.
func podEndpoints(pods []corev1.Pod, scheme string, skip ...string) []string {
	var eps []string
	for _, p := range pods {
		if p.Status.PodIP == "" || p.DeletionTimestamp != nil || contains(skip, p.Name) {
			continue
		}
		eps = append(eps, scheme+"://"+net.JoinHostPort(p.Status.PodIP, strconv.Itoa(etcdv1.ClientPort)))
	}
	return eps
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// serviceEndpoint is the client URL of the cluster's client Service by
// ClusterIP, as an application in the cluster would use it.
func (k *kube) serviceEndpoint(ctx context.Context, ns, name, scheme string) (string, error) {
	svc := &corev1.Service{}
	if err := k.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-client"}, svc); err != nil {
		return "", err
	}
	return scheme + "://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(etcdv1.ClientPort)), nil
}

// clientTLS loads the cluster's root client certificate. The server
// certificate names the client Service, which the host does not resolve,
// so that name is checked explicitly (and sent as the authority, see
// etcdConfig).
func (k *kube) clientTLS(ctx context.Context, ns, name string) (*tls.Config, error) {
	s := &corev1.Secret{}
	if err := k.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-client-tls"}, s); err != nil {
		return nil, err
	}
	cfg, err := etcdclient.TLSConfig(s.Data["tls.crt"], s.Data["tls.key"], s.Data["ca.crt"])
	if err != nil {
		return nil, err
	}
	cfg.ServerName = fmt.Sprintf("%s-client.%s.svc", name, ns)
	return cfg, nil
}

// etcdConfig is the client configuration for endpoints. The client
// replaces the TLS server name by the endpoint's host (an IP here), so the
// name the certificate carries goes in as the connection's authority.
// Keepalives find a connection to a killed pod within a few seconds.
func etcdConfig(endpoints []string, tlsCfg *tls.Config) clientv3.Config {
	cfg := clientv3.Config{
		Endpoints: endpoints, TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialKeepAliveTime: 2 * time.Second, DialKeepAliveTimeout: 2 * time.Second,
	}
	if tlsCfg != nil && tlsCfg.ServerName != "" {
		cfg.DialOptions = []grpc.DialOption{grpc.WithAuthority(tlsCfg.ServerName)}
	}
	return cfg
}

func etcdClient(endpoints []string, tlsCfg *tls.Config) (*clientv3.Client, error) {
	return clientv3.New(etcdConfig(endpoints, tlsCfg))
}

// clusterClient connects to every member pod of a ready cluster.
func (k *kube) clusterClient(ctx context.Context, ns, name string) (*clientv3.Client, *tls.Config, error) {
	c, err := k.cluster(ctx, ns, name)
	if err != nil {
		return nil, nil, err
	}
	var tlsCfg *tls.Config
	if c.TLSEnabled() {
		if tlsCfg, err = k.clientTLS(ctx, ns, name); err != nil {
			return nil, nil, err
		}
	}
	pods, err := k.memberPods(ctx, ns, name)
	if err != nil {
		return nil, nil, err
	}
	eps := podEndpoints(pods, c.Scheme())
	if len(eps) == 0 {
		return nil, nil, fmt.Errorf("%s/%s: no member pod has an IP", ns, name)
	}
	cl, err := etcdClient(eps, tlsCfg)
	return cl, tlsCfg, err
}

// serviceClient connects through the client Service.
func (k *kube) serviceClient(ctx context.Context, ns, name string) (*clientv3.Client, error) {
	c, err := k.cluster(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if c.TLSEnabled() {
		if tlsCfg, err = k.clientTLS(ctx, ns, name); err != nil {
			return nil, err
		}
	}
	ep, err := k.serviceEndpoint(ctx, ns, name, c.Scheme())
	if err != nil {
		return nil, err
	}
	return etcdClient([]string{ep}, tlsCfg)
}

// seconds of d.
func seconds(d time.Duration) float64 { return d.Seconds() }

// ms of d.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
