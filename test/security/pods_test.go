package security

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/etcdserver/server"
)

var opts = render.Options{ImageRepository: "quorum.dev/etcd-server", ClusterDomain: "example.local"}

func cluster(tls, auth bool) *etcdv1.EtcdCluster {
	return &etcdv1.EtcdCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", UID: "uid-1"},
		Spec: etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3), Version: "3.7.3",
			TLS: etcdv1.TLSSpec{Enabled: ptr.To(tls)}, Auth: etcdv1.AuthSpec{Enabled: ptr.To(auth)}},
	}
}

var (
	s3Location  = etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", CredentialsSecretName: "creds", CA: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}, Key: "ca.crt"}}}
	pvcLocation = etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "backups"}}
	key         = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "k"}, Key: "key"}
)

type pod struct {
	name string
	spec corev1.PodSpec
}

// pods is every pod the renderers produce (members, backup, restore
// verification and preflight Jobs), for TLS and auth on and off, with and without a
// restore, for both kinds of backup location.
func pods() []pod {
	var out []pod
	for _, tls := range []bool{true, false} {
		for _, auth := range []bool{true, false} {
			c := cluster(tls, auth)
			tag := "tls=" + onOff(tls) + ",auth=" + onOff(auth)
			for _, r := range []struct {
				name string
				src  *render.RestoreSource
			}{
				{"", nil},
				{" restore s3", &render.RestoreSource{Location: s3Location, Key: "a/b.db", EncryptionKey: key}},
				{" restore pvc", &render.RestoreSource{Location: pvcLocation, Key: "a/b.db"}},
				{" restore in place", &render.RestoreSource{Location: s3Location, Key: "a/b.db", InPlaceID: "r1"}},
			} {
				sts := render.StatefulSet(c, opts, 3, render.DesiredRevision(c, opts, render.Hash(render.EtcdOptions(c))), r.src)
				out = append(out, pod{"StatefulSet " + tag + r.name, sts.Spec.Template.Spec})
			}
			out = append(out,
				pod{"preflight Job " + tag, render.PreflightJob(c, opts, "abc", "db-2", "node-1").Spec.Template.Spec},
				pod{"preflight Job, node unknown " + tag, render.PreflightJob(c, opts, "abc", "db-2", "").Spec.Template.Spec})
			for name, loc := range map[string]etcdv1.BackupLocation{"s3": s3Location, "pvc": pvcLocation} {
				b := backup(loc)
				out = append(out, pod{"backup Job " + name + " " + tag, render.BackupJob(b, c, opts).Spec.Template.Spec})
				src := &render.RestoreSource{Location: loc, Key: "a/b.db", EncryptionKey: key}
				r := &etcdv1.EtcdRestore{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "prod"}}
				out = append(out, pod{"verify Job " + name + " " + tag, render.VerifyJob(r, c, src, opts, "").Spec.Template.Spec})
			}
		}
	}
	return out
}

func backup(loc etcdv1.BackupLocation) *etcdv1.EtcdBackup {
	return &etcdv1.EtcdBackup{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "prod", CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))},
		Spec:       etcdv1.EtcdBackupSpec{ClusterName: "db", Destination: loc, EncryptionKey: key},
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// checkPod asserts the restricted Pod Security Standard and a read-only
// root filesystem for every container of a pod.
func checkPod(t *testing.T, p corev1.PodSpec) {
	t.Helper()
	if p.HostNetwork || p.HostPID || p.HostIPC {
		t.Error("pod shares a host namespace")
	}
	psc := p.SecurityContext
	if psc == nil {
		t.Fatal("no pod security context")
	}
	if psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		t.Error("pod runs as uid 0")
	}
	for _, v := range p.Volumes {
		if v.HostPath != nil {
			t.Errorf("hostPath volume %s", v.Name)
		}
	}
	if len(p.EphemeralContainers) > 0 {
		t.Error("ephemeral containers in a template")
	}
	all := append(slices.Clone(p.InitContainers), p.Containers...)
	if len(all) == 0 {
		t.Fatal("no containers")
	}
	for _, c := range all {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s: no security context", c.Name)
			continue
		}
		nonRoot := psc.RunAsNonRoot
		if sc.RunAsNonRoot != nil {
			nonRoot = sc.RunAsNonRoot
		}
		if nonRoot == nil || !*nonRoot {
			t.Errorf("%s: runAsNonRoot is not true", c.Name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			t.Errorf("%s: runs as uid 0", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: root filesystem is writable", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: privilege escalation is allowed", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s: privileged", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s: capabilities %+v, want drop ALL and no add", c.Name, sc.Capabilities)
		}
		seccomp := psc.SeccompProfile
		if sc.SeccompProfile != nil {
			seccomp = sc.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: seccomp profile %+v, want RuntimeDefault", c.Name, seccomp)
		}
		for _, port := range c.Ports {
			if port.HostPort != 0 {
				t.Errorf("%s: host port %d", c.Name, port.HostPort)
			}
		}
	}
}

func TestRenderedPods(t *testing.T) {
	for _, p := range pods() {
		t.Run(p.name, func(t *testing.T) {
			checkPod(t, p.spec)
			if p.spec.AutomountServiceAccountToken == nil || *p.spec.AutomountServiceAccountToken {
				t.Error("pod mounts a service account token it does not need")
			}
		})
	}
}

func TestOperatorDeployment(t *testing.T) {
	d := &appsv1.Deployment{}
	if err := yaml.UnmarshalStrict(renderChart(t)["Deployment/quorum-operator"], d); err != nil {
		t.Fatal(err)
	}
	checkPod(t, d.Spec.Template.Spec)
}

// etcdConfig resolves the environment of the etcd container of the rendered
// member 0 as the kubelet would (field and ConfigMap references, mounted
// files under a temporary root) and hands it to quorum-etcd's own parsing,
// returning the configuration etcd is started with.
func etcdConfig(t *testing.T, c *etcdv1.EtcdCluster) (server.Settings, *embed.Config) {
	t.Helper()
	sts := render.StatefulSet(c, opts, 3, render.DesiredRevision(c, opts, render.Hash(render.EtcdOptions(c))), nil)
	// The cluster ConfigMap of a new cluster.
	cm := map[string]string{
		render.ConfigKeyOptions:        render.EtcdOptions(c),
		render.ConfigKeyInitialCluster: render.InitialCluster(c, 3, opts.Domain()),
		render.ConfigKeyInitialState:   render.StateNew,
	}
	spec := sts.Spec.Template.Spec
	ctr := spec.Containers[0]
	if ctr.Name != render.ContainerName {
		t.Fatalf("first container is %s", ctr.Name)
	}

	root := t.TempDir()
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	for _, m := range ctr.VolumeMounts {
		dir := filepath.Join(root, m.MountPath)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		v := vols[m.Name]
		var files []string
		switch {
		case v.ConfigMap != nil:
			for _, it := range v.ConfigMap.Items {
				if err := os.WriteFile(filepath.Join(dir, it.Path), []byte(cm[it.Key]), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		case v.Secret != nil && v.Secret.SecretName == c.AuthTokenKeySecretName():
			// quorum-etcd checks the JWT key pair: a real one, as the
			// operator writes it.
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			sec, err := render.AuthTokenKeySecret(c, key)
			if err != nil {
				t.Fatal(err)
			}
			for name, data := range sec.Data {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		case v.Secret != nil:
			// Only the names matter: quorum-etcd checks that they exist.
			files = []string{"tls.crt", "tls.key", "ca.crt"}
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}

	env := map[string]string{}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
			if strings.HasPrefix(e.Value, "/") {
				env[e.Name] = filepath.Join(root, e.Value)
			}
		case e.ValueFrom.FieldRef != nil:
			env[e.Name] = map[string]string{"metadata.name": c.MemberName(0), "metadata.namespace": c.Namespace}[e.ValueFrom.FieldRef.FieldPath]
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			if ref.Name != c.ConfigMapName() {
				t.Fatalf("%s refers to ConfigMap %s", e.Name, ref.Name)
			}
			v, ok := cm[ref.Key]
			if !ok && (ref.Optional == nil || !*ref.Optional) {
				t.Fatalf("%s refers to key %s the ConfigMap of a new cluster lacks", e.Name, ref.Key)
			}
			if ok {
				env[e.Name] = v
			}
		default:
			t.Fatalf("cannot resolve %s", e.Name)
		}
	}
	s, err := server.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("quorum-etcd refuses the rendered environment: %v", err)
	}
	cfg, err := s.EmbedConfig(server.Bootstrap{Mode: server.ModeNew, InitialCluster: s.InitialCluster})
	if err != nil {
		t.Fatal(err)
	}
	return s, cfg
}

func TestMemberURLs(t *testing.T) {
	for _, tls := range []bool{true, false} {
		t.Run("tls-"+onOff(tls), func(t *testing.T) {
			c := cluster(tls, true)
			want := "http"
			if tls {
				want = "https"
			}
			s, cfg := etcdConfig(t, c)
			var initial []url.URL
			for _, p := range s.InitialCluster {
				initial = append(initial, p.URL)
			}
			if len(cfg.ListenClientHttpUrls) > 0 {
				t.Errorf("extra plain client listener %v", cfg.ListenClientHttpUrls)
			}
			for what, urls := range map[string][]url.URL{"listen client": cfg.ListenClientUrls, "advertise client": cfg.AdvertiseClientUrls,
				"listen peer": cfg.ListenPeerUrls, "advertise peer": cfg.AdvertisePeerUrls, "initial cluster": initial} {
				if len(urls) == 0 {
					t.Errorf("no %s URL", what)
				}
				for _, u := range urls {
					if u.Scheme != want {
						t.Errorf("%s URL %s, want only %s", what, u.String(), want)
					}
				}
			}
			for _, ep := range s.JoinEndpoints {
				if !strings.HasPrefix(ep, want+"://") {
					t.Errorf("join endpoint %s, want %s", ep, want)
				}
			}
			if tls && (!s.ServerTLS.Enabled() || !s.PeerTLS.Enabled()) {
				t.Error("TLS on but quorum-etcd has no server or peer TLS dir")
			}

			// Backups reach members the same way.
			j := render.BackupJob(backup(s3Location), c, opts)
			for _, a := range j.Spec.Template.Spec.Containers[0].Args {
				if eps, ok := strings.CutPrefix(a, "--endpoints="); ok {
					for _, ep := range strings.Split(eps, ",") {
						if !strings.HasPrefix(ep, want+"://") {
							t.Errorf("backup endpoint %s, want %s", ep, want)
						}
					}
				}
			}

			// The plain-http metrics listener is on a port of its own, and
			// the probes use it for health paths only.
			if len(cfg.ListenMetricsUrls) != 1 || len(cfg.ListenClientUrls) != 1 || len(cfg.ListenPeerUrls) != 1 {
				t.Fatalf("listeners: metrics %v, client %v, peer %v", cfg.ListenMetricsUrls, cfg.ListenClientUrls, cfg.ListenPeerUrls)
			}
			metricsPort, clientPort, peerPort := cfg.ListenMetricsUrls[0].Port(), cfg.ListenClientUrls[0].Port(), cfg.ListenPeerUrls[0].Port()
			if metricsPort == clientPort || metricsPort == peerPort {
				t.Errorf("metrics port %s shared with client or peer traffic", metricsPort)
			}
			ctr := render.StatefulSet(c, opts, 3, render.DesiredRevision(c, opts, render.Hash(render.EtcdOptions(c))), nil).Spec.Template.Spec.Containers[0]
			ports := map[string]int32{}
			for _, p := range ctr.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if ports["metrics"] == ports["client"] || ports["metrics"] == ports["peer"] || itoa(ports["metrics"]) != metricsPort {
				t.Errorf("container ports %v, etcd metrics port %s", ports, metricsPort)
			}
			if itoa(ports["client"]) != clientPort || itoa(ports["peer"]) != peerPort {
				t.Errorf("container ports %v do not match etcd's listeners", ports)
			}
			for _, p := range []*corev1.Probe{ctr.StartupProbe, ctr.LivenessProbe, ctr.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.StrVal != "metrics" || !slices.Contains([]string{"/livez", "/readyz"}, p.HTTPGet.Path) {
					t.Errorf("probe %+v", p)
				}
			}
			pm := render.PodMonitor(c)
			eps, found, err := unstructured.NestedSlice(pm.Object, "spec", "podMetricsEndpoints")
			if !found || err != nil || len(eps) == 0 {
				t.Fatalf("PodMonitor has no endpoints: %v", err)
			}
			for _, ep := range eps {
				m, _ := ep.(map[string]any)
				if m["port"] != "metrics" || m["path"] != "/metrics" {
					t.Errorf("PodMonitor endpoint %v", m)
				}
			}
		})
	}
}

func itoa(p int32) string { return strconv.Itoa(int(p)) }
