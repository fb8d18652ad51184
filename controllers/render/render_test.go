package render

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/membership"
)

var opts = Options{ImageRepository: "quorum.dev/etcd-server", ClusterDomain: "example.local"}

func cluster(mut func(*etcdv1.EtcdCluster)) *etcdv1.EtcdCluster {
	c := &etcdv1.EtcdCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", UID: "uid-1"},
		Spec:       etcdv1.EtcdClusterSpec{Replicas: ptr.To[int32](3), Version: "3.7.3"},
	}
	if mut != nil {
		mut(c)
	}
	return c
}

func envOf(sts *appsv1.StatefulSet) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range sts.Spec.Template.Spec.Containers[0].Env {
		m[e.Name] = e
	}
	return m
}

func TestStatefulSet(t *testing.T) {
	cases := []struct {
		name  string
		mut   func(*etcdv1.EtcdCluster)
		check func(t *testing.T, s *appsv1.StatefulSet)
	}{
		{"defaults: PVC, TLS, retain on delete, delete on scale", nil, func(t *testing.T, s *appsv1.StatefulSet) {
			if len(s.Spec.VolumeClaimTemplates) != 1 || s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String() != "1Gi" {
				t.Errorf("claim templates: %+v", s.Spec.VolumeClaimTemplates)
			}
			p := s.Spec.PersistentVolumeClaimRetentionPolicy
			if p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType || p.WhenScaled != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
				t.Errorf("retention: %+v", p)
			}
			if ctr := s.Spec.Template.Spec.Containers[0]; ctr.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
				t.Errorf("etcd container's termination message policy %q: a crash without a message would show no cause", ctr.TerminationMessagePolicy)
			}
			if l := s.Spec.Template.Spec.Containers[0].Lifecycle; l == nil || l.PreStop == nil || l.PreStop.Sleep == nil || l.PreStop.Sleep.Seconds != DrainSeconds ||
				*s.Spec.Template.Spec.TerminationGracePeriodSeconds <= DrainSeconds {
				t.Errorf("a stopping member must keep serving %d s (preStop sleep, within the grace period) while the Service drops it: %+v", DrainSeconds, l)
			}
			env := envOf(s)
			if env["QUORUM_SERVER_TLS_DIR"].Value != ServerTLSDir || env["QUORUM_PEER_TLS_DIR"].Value != PeerTLSDir {
				t.Errorf("TLS env missing: %+v", env)
			}
			if env["QUORUM_CLUSTER_DOMAIN"].Value != "example.local" || env["QUORUM_PEER_SERVICE"].Value != "db-peer" {
				t.Errorf("env: %+v", env)
			}
			if env["QUORUM_INITIAL_CLUSTER_STATE"].ValueFrom.ConfigMapKeyRef.Name != "db-config" {
				t.Errorf("bootstrap state must come from the ConfigMap, got %+v", env["QUORUM_INITIAL_CLUSTER_STATE"])
			}
			if _, ok := env["ETCDCTL_ENDPOINTS"]; ok {
				t.Error("ETCDCTL_ENDPOINTS makes etcdctl refuse --endpoints")
			}
			if env["ETCDCTL_CERT"].Value != ClientTLSDir+"/tls.crt" {
				t.Errorf("etcdctl cert: %q", env["ETCDCTL_CERT"].Value)
			}
		}},
		{"pods are non-root with a read-only root filesystem", nil, func(t *testing.T, s *appsv1.StatefulSet) {
			pod := s.Spec.Template.Spec
			ctr := pod.Containers[0]
			if !*pod.SecurityContext.RunAsNonRoot || *pod.SecurityContext.RunAsUser == 0 {
				t.Error("pod may run as root")
			}
			if !*ctr.SecurityContext.ReadOnlyRootFilesystem || *ctr.SecurityContext.AllowPrivilegeEscalation {
				t.Error("container root filesystem writable or privilege escalation allowed")
			}
			if ctr.ReadinessProbe.HTTPGet.Path != "/readyz" || ctr.LivenessProbe.HTTPGet.Path != "/livez" {
				t.Error("probes")
			}
			budget := func(p *corev1.Probe) int32 { return p.PeriodSeconds * p.FailureThreshold }
			if ctr.StartupProbe.PeriodSeconds > 1 || budget(ctr.StartupProbe) < 300 {
				t.Errorf("startup probe every %d s for %d s: want every second, five minutes in all", ctr.StartupProbe.PeriodSeconds, budget(ctr.StartupProbe))
			}
			if ctr.ReadinessProbe.PeriodSeconds > 2 || budget(ctr.ReadinessProbe) > 6 {
				t.Errorf("a member that stops answering stays ready for %d s", budget(ctr.ReadinessProbe))
			}
			for _, p := range []*corev1.Probe{ctr.StartupProbe, ctr.LivenessProbe, ctr.ReadinessProbe} {
				if p.TimeoutSeconds > p.PeriodSeconds {
					t.Errorf("probe timeout %d s longer than its period %d s", p.TimeoutSeconds, p.PeriodSeconds)
				}
			}
		}},
		{"retain on scale when asked", func(c *etcdv1.EtcdCluster) {
			c.Spec.Storage.WhenScaled = etcdv1.PVCRetain
			c.Spec.Storage.WhenDeleted = etcdv1.PVCDelete
		}, func(t *testing.T, s *appsv1.StatefulSet) {
			p := s.Spec.PersistentVolumeClaimRetentionPolicy
			if p.WhenDeleted != appsv1.DeletePersistentVolumeClaimRetentionPolicyType || p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
				t.Errorf("retention: %+v", p)
			}
		}},
		{"memory medium uses a sized tmpfs and no claims", func(c *etcdv1.EtcdCluster) {
			c.Spec.Storage.Medium = etcdv1.StorageMemory
			q := resource.MustParse("256Mi")
			c.Spec.Storage.Size = &q
		}, func(t *testing.T, s *appsv1.StatefulSet) {
			if len(s.Spec.VolumeClaimTemplates) != 0 || s.Spec.PersistentVolumeClaimRetentionPolicy != nil {
				t.Error("memory medium must not claim volumes")
			}
			for _, v := range s.Spec.Template.Spec.Volumes {
				if v.Name == "data" {
					if v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory || v.EmptyDir.SizeLimit.String() != "256Mi" {
						t.Errorf("data volume: %+v", v)
					}
					return
				}
			}
			t.Error("no data volume")
		}},
		{"TLS off: plain URLs, no secret volumes", func(c *etcdv1.EtcdCluster) { c.Spec.TLS.Enabled = ptr.To(false) }, func(t *testing.T, s *appsv1.StatefulSet) {
			for _, v := range s.Spec.Template.Spec.Volumes {
				if v.Secret != nil && v.Name != authTokenVolume {
					t.Errorf("secret volume %s with TLS off", v.Name)
				}
			}
			if _, ok := envOf(s)["QUORUM_SERVER_TLS_DIR"]; ok {
				t.Error("TLS dir set with TLS off")
			}
		}},
		{"pod template overrides pass through, selector labels win", func(c *etcdv1.EtcdCluster) {
			c.Spec.PodTemplate = etcdv1.PodTemplate{
				Labels:            map[string]string{"team": "a", etcdv1.LabelInstance: "hijack"},
				Annotations:       map[string]string{"note": "x"},
				NodeSelector:      map[string]string{"disk": "ssd"},
				Tolerations:       []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
				PriorityClassName: "system-cluster-critical",
			}
		}, func(t *testing.T, s *appsv1.StatefulSet) {
			tpl := s.Spec.Template
			if tpl.Labels["team"] != "a" || tpl.Labels[etcdv1.LabelInstance] != "db" {
				t.Errorf("labels: %v", tpl.Labels)
			}
			if tpl.Annotations["note"] != "x" || tpl.Annotations[AnnotationConfigHash] != "hash" {
				t.Errorf("annotations: %v", tpl.Annotations)
			}
			if tpl.Spec.NodeSelector["disk"] != "ssd" || len(tpl.Spec.Tolerations) != 1 || tpl.Spec.PriorityClassName != "system-cluster-critical" {
				t.Error("scheduling overrides lost")
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := StatefulSet(cluster(tc.mut), opts, 3, testRevision(cluster(tc.mut)), nil)
			if *s.Spec.Replicas != 3 || s.Spec.PodManagementPolicy != appsv1.ParallelPodManagement || s.Spec.ServiceName != "db-peer" {
				t.Fatalf("basic shape wrong: %+v", s.Spec)
			}
			if got := s.Spec.Template.Spec.Containers[0].Image; got != "quorum.dev/etcd-server:3.7.3" {
				t.Fatalf("image %q", got)
			}
			tc.check(t, s)
		})
	}
}

func TestReplicasArgumentWins(t *testing.T) {
	if s := StatefulSet(cluster(nil), opts, 1, testRevision(cluster(nil)), nil); *s.Spec.Replicas != 1 {
		t.Fatalf("replicas %d, want the argument 1", *s.Spec.Replicas)
	}
}

func TestPodDisruptionBudgetKeepsQuorum(t *testing.T) {
	for n, want := range map[int32]int{1: 0, 2: 0, 3: 1, 4: 1, 5: 2, 7: 3} {
		pdb := PodDisruptionBudget(cluster(func(c *etcdv1.EtcdCluster) { c.Spec.Replicas = ptr.To(n) }))
		if got := pdb.Spec.MaxUnavailable.IntValue(); got != want {
			t.Errorf("%d members: maxUnavailable %d, want %d", n, got, want)
		}
		if int(n)-want < membership.Quorum(int(n)) {
			t.Errorf("%d members: budget allows losing quorum", n)
		}
	}
}

func TestServices(t *testing.T) {
	c := cluster(nil)
	peer, client := PeerService(c), ClientService(c)
	if peer.Spec.ClusterIP != corev1.ClusterIPNone || !peer.Spec.PublishNotReadyAddresses || len(peer.Spec.Ports) != 2 {
		t.Errorf("peer service: %+v", peer.Spec)
	}
	if client.Spec.ClusterIP != "" || client.Spec.PublishNotReadyAddresses || len(client.Spec.Ports) != 1 || client.Spec.Ports[0].Port != 2379 {
		t.Errorf("client service: %+v", client.Spec)
	}
	if client.Name != "db-client" || peer.Name != "db-peer" || peer.Labels[etcdv1.LabelManagedBy] != "quorum" {
		t.Error("names or labels")
	}
}

func TestEtcdOptions(t *testing.T) {
	cases := []struct {
		name string
		mut  func(*etcdv1.EtcdCluster)
		want string
	}{
		{"defaults: the quota derived from the default 1Gi volume", nil, "auto-compaction-mode: \"periodic\"\nauto-compaction-retention: \"1h\"\nquota-backend-bytes: 335544320\n"},
		{"quota derived from the volume", func(c *etcdv1.EtcdCluster) {
			q := resource.MustParse("8Gi")
			c.Spec.Storage.Size = &q
		}, "quota-backend-bytes: 4093640704\n"},
		{"user options sorted, quoted unless etcd reads a boolean or a number", func(c *etcdv1.EtcdCluster) {
			c.Spec.EtcdOptions = map[string]string{"snapshot-count": "5000", "log-level": "warn", "pre-vote": "true", "distributed-tracing-instance-id": "123"}
			q := resource.MustParse("8Gi")
			c.Spec.Quota.BackendBytes = &q
			c.Spec.Compaction = etcdv1.CompactionSpec{Mode: "revision", Retention: "1000"}
		}, "auto-compaction-mode: \"revision\"\nauto-compaction-retention: \"1000\"\ndistributed-tracing-instance-id: \"123\"\nlog-level: \"warn\"\npre-vote: true\nquota-backend-bytes: 8589934592\nsnapshot-count: 5000\n"},
		{"YAML specials stay strings", func(c *etcdv1.EtcdCluster) {
			c.Spec.EtcdOptions = map[string]string{"auth-token": "yes: no", "cors": "#x"}
		}, "auth-token: \"yes: no\"\n"},
		{"leading zeros stay strings (YAML would read octal)", func(c *etcdv1.EtcdCluster) {
			c.Spec.EtcdOptions = map[string]string{"snapshot-count": "010", "max-learners": "0", "max-wals": "-07"}
		}, "max-learners: 0\nmax-wals: \"-07\"\nquota-backend-bytes: 335544320\nsnapshot-count: \"010\"\n"},
	}
	for _, tc := range cases {
		got := EtcdOptions(cluster(tc.mut))
		if !strings.HasPrefix(got, tc.want) && !strings.Contains(got, tc.want) {
			t.Errorf("%s:\n%s\nwant to contain\n%s", tc.name, got, tc.want)
		}
	}
	if Hash("a") == Hash("b") || Hash("a") != Hash("a") {
		t.Error("hash")
	}
}

func TestInitialCluster(t *testing.T) {
	got := InitialCluster(cluster(nil), 2, "example.local")
	want := "db-0=https://db-0.db-peer.prod.svc.example.local:2380,db-1=https://db-1.db-peer.prod.svc.example.local:2380"
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	cm := ConfigMap(cluster(nil), opts, Bootstrap{State: StateNew, InitialCluster: got}, "")
	if cm.Data[ConfigKeyInitialState] != "new" || cm.Data[ConfigKeyInitialCluster] != want || cm.Name != "db-config" {
		t.Errorf("configmap: %+v", cm.Data)
	}
}

func TestNetworkPolicy(t *testing.T) {
	open := NetworkPolicy(cluster(nil), "quorum-system")
	if len(open.Spec.Ingress) != 3 {
		t.Fatalf("rules: %+v", open.Spec.Ingress)
	}
	peer, client := open.Spec.Ingress[0], open.Spec.Ingress[1]
	if peer.Ports[0].Port.IntValue() != 2380 || len(peer.From) != 1 || peer.From[0].PodSelector.MatchLabels[etcdv1.LabelInstance] != "db" {
		t.Errorf("peer rule: %+v", peer)
	}
	if client.Ports[0].Port.IntValue() != 2379 || len(client.From) != 0 {
		t.Errorf("client rule without allowed clients must admit everyone: %+v", client)
	}
	limited := NetworkPolicy(cluster(func(c *etcdv1.EtcdCluster) {
		c.Spec.NetworkPolicy.AllowedClients = []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}}}
	}), "quorum-system")
	from := limited.Spec.Ingress[1].From
	if len(from) != 4 || from[1].PodSelector.MatchLabels[etcdv1.LabelComponent] != "backup" || from[2].PodSelector.MatchLabels["app"] != "api" ||
		from[3].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "quorum-system" {
		t.Errorf("client rule: %+v", from)
	}
	// The backup Job's pods match the backup peer and never the members'
	// selector (Services, PDB, member listings).
	job := BackupJob(&etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "db"}}, cluster(nil), opts)
	podLabels := labels.Set(job.Spec.Template.Labels)
	if sel := labels.SelectorFromSet(from[1].PodSelector.MatchLabels); !sel.Matches(podLabels) {
		t.Errorf("backup pods %v do not match the backup peer %v", podLabels, sel)
	}
	if sel := labels.SelectorFromSet(cluster(nil).SelectorLabels()); sel.Matches(podLabels) {
		t.Errorf("backup pods %v match the members' selector", podLabels)
	}
}

func TestRestoreInitContainer(t *testing.T) {
	loc := etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", CredentialsSecretName: "creds", Insecure: true}}
	s := StatefulSet(cluster(nil), opts, 3, testRevision(cluster(nil)), &RestoreSource{Location: loc, Key: "a/b.db"})
	if n := len(s.Spec.Template.Spec.InitContainers); n != 1 {
		t.Fatalf("%d init containers", n)
	}
	init := s.Spec.Template.Spec.InitContainers[0]
	args := strings.Join(init.Args, " ")
	for _, want := range []string{"restore --only-new-cluster --key=a/b.db", "--s3-endpoint=s3:9000", "--bucket=bkt", "--s3-insecure"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	env := map[string]bool{}
	for _, e := range init.Env {
		env[e.Name] = true
	}
	for _, want := range []string{"POD_NAME", "QUORUM_INITIAL_CLUSTER", "QUORUM_INITIAL_CLUSTER_STATE", "QUORUM_CLUSTER_TOKEN", "QUORUM_DATA_DIR", "AWS_ACCESS_KEY_ID"} {
		if !env[want] {
			t.Errorf("restore env lacks %s", want)
		}
	}
	if init.VolumeMounts[0].MountPath != DataMountPath {
		t.Errorf("data not mounted first: %+v", init.VolumeMounts)
	}
	if len(StatefulSet(cluster(nil), opts, 3, testRevision(cluster(nil)), nil).Spec.Template.Spec.InitContainers) != 0 {
		t.Error("init container without a restore")
	}
}
