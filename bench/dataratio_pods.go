package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
)

// podUpstreamName names the StatefulSet, its headless Service and Secret
// of the upstream cluster in pods.
const podUpstreamName = "up"

// podUpstream is the third side of the data-ratio bench: the same
// upstream etcd binary ($ETCD_BIN, mounted from the host), flags,
// certificates and root-by-certificate authentication as startUpstream's,
// in three pods of a hand-written StatefulSet on the cluster's pod network
// and volumes. Quorum over this side is Quorum's own cost; this side over
// the host's is the cost of running any etcd in pods on this cluster.
type podUpstream struct {
	endpoints []string
	clientTLS *tls.Config
	files     tlsFiles
}

// startPodUpstream creates the pods in ns, waits until all three have an
// IP, enables authentication and returns the client side; dir receives
// the root client's files for etcdctl. The pods go with the namespace.
func startPodUpstream(ctx context.Context, k *kube, ns, etcdBin, dir string) (*podUpstream, error) {
	now := time.Now()
	peerDomain := fmt.Sprintf("%s-peer.%s.svc.%s", podUpstreamName, ns, etcdv1.DefaultClusterDomain)
	serverName := fmt.Sprintf("%s.%s.svc", podUpstreamName, ns)
	ca, err := pki.NewCA("bench-pod-upstream-ca", now, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	member, err := pki.Issue(ca, pki.LeafRequest{CommonName: "upstream-member",
		DNSNames: []string{"*." + peerDomain, serverName}, Server: true, Client: true}, now, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	root, err := pki.Issue(ca, pki.LeafRequest{CommonName: "root", Client: true}, now, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	u := &podUpstream{files: tlsFiles{cert: filepath.Join(dir, "pod-root.crt"), key: filepath.Join(dir, "pod-root.key"),
		ca: filepath.Join(dir, "pod-ca.crt")}}
	for path, b := range map[string][]byte{u.files.cert: root.CertPEM, u.files.key: root.KeyPEM, u.files.ca: ca.CertPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: podUpstreamName + "-tls", Namespace: ns},
		Data: map[string][]byte{"ca.crt": ca.CertPEM, "member.crt": member.CertPEM, "member.key": member.KeyPEM}}
	svc, sts := podUpstreamObjects(ns, etcdBin, peerDomain)
	for _, o := range []client.Object{secret, svc, sts} {
		if err := k.Create(ctx, o); err != nil {
			return nil, fmt.Errorf("creating %s: %w", o.GetName(), err)
		}
	}
	pods, err := k.waitPodIPs(ctx, ns, map[string]string{"app": podUpstreamName}, 3, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	u.endpoints = podEndpoints(pods, "https")
	info := transport.TLSInfo{CertFile: u.files.cert, KeyFile: u.files.key, TrustedCAFile: u.files.ca}
	if u.clientTLS, err = info.ClientConfig(); err != nil {
		return nil, err
	}
	u.clientTLS.ServerName = serverName
	if err := enableRootAuth(ctx, u.endpoints, u.clientTLS); err != nil {
		return nil, fmt.Errorf("upstream in pods: %w", err)
	}
	return u, nil
}

// waitPodIPs waits until n pods matching labels run and have an IP.
func (k *kube) waitPodIPs(ctx context.Context, ns string, labels map[string]string, n int, timeout time.Duration) ([]corev1.Pod, error) {
	deadline := time.Now().Add(timeout)
	for {
		pods := &corev1.PodList{}
		if err := k.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil {
			return nil, err
		}
		var running []corev1.Pod
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				running = append(running, p)
			}
		}
		if len(running) == n {
			return running, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d pods running with an IP after %s", len(running), n, timeout)
		}
		if err := sleep(ctx, pollEvery); err != nil {
			return nil, err
		}
	}
}

// podUpstreamObjects are the headless Service and StatefulSet of the
// upstream cluster in pods: the flags of startUpstream with the pods' DNS
// names for URLs, the Quorum members' image (for its file system only),
// a claim like theirs. The pods run as root to read the binary from the
// host's cache directory.
func podUpstreamObjects(ns, etcdBin, peerDomain string) (*corev1.Service, *appsv1.StatefulSet) {
	labels := map[string]string{"app": podUpstreamName}
	var initial []string
	for i := range 3 {
		initial = append(initial, fmt.Sprintf("%s-%d=https://%s-%d.%s:%d", podUpstreamName, i, podUpstreamName, i, peerDomain, etcdv1.PeerPort))
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: podUpstreamName + "-peer", Namespace: ns, Labels: labels},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, PublishNotReadyAddresses: true, Selector: labels,
			Ports: []corev1.ServicePort{{Name: "peer", Port: etcdv1.PeerPort}},
		},
	}
	self := fmt.Sprintf("$(POD_NAME).%s", peerDomain)
	args := []string{
		"--name=$(POD_NAME)", "--data-dir=/var/lib/etcd/data",
		fmt.Sprintf("--listen-client-urls=https://0.0.0.0:%d", etcdv1.ClientPort),
		fmt.Sprintf("--advertise-client-urls=https://%s:%d", self, etcdv1.ClientPort),
		fmt.Sprintf("--listen-peer-urls=https://0.0.0.0:%d", etcdv1.PeerPort),
		fmt.Sprintf("--initial-advertise-peer-urls=https://%s:%d", self, etcdv1.PeerPort),
		"--initial-cluster=" + strings.Join(initial, ","), "--initial-cluster-state=new",
		"--initial-cluster-token=bench-pod-upstream",
		"--cert-file=/tls/member.crt", "--key-file=/tls/member.key", "--trusted-ca-file=/tls/ca.crt", "--client-cert-auth",
		"--peer-cert-file=/tls/member.crt", "--peer-key-file=/tls/member.key", "--peer-trusted-ca-file=/tls/ca.crt",
		"--peer-client-cert-auth",
	}
	sts := benchStatefulSet(ns, podUpstreamName, svc.Name, 3, corev1.PodSpec{
		AutomountServiceAccountToken: ptr.To(false),
		EnableServiceLinks:           ptr.To(false),
		SecurityContext:              &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](0)},
		Containers: []corev1.Container{{
			Name:            "etcd",
			Image:           etcdImage,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Command:         []string{"/upstream/etcd"},
			Args:            args,
			Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "data", MountPath: "/var/lib/etcd"},
				{Name: "bin", MountPath: "/upstream", ReadOnly: true},
				{Name: "tls", MountPath: "/tls", ReadOnly: true},
			},
		}},
		Volumes: []corev1.Volume{
			{Name: "bin", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: etcdBin, Type: ptr.To(corev1.HostPathDirectory)}}},
			{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: podUpstreamName + "-tls"}}},
		},
	})
	return svc, sts
}
