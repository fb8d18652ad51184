package contract_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/etcdserver/backup"
	"quorum.dev/etcd-operator/etcdserver/server"
	"quorum.dev/etcd-operator/internal/contract"
)

// The operator and quorum-etcd each import package contract; these tests
// check that what one side renders or writes, the other side reads.

// memberEnvironment resolves the etcd container's environment the way the
// kubelet would for pod, from the rendered StatefulSet and ConfigMap. The
// options file, a mounted ConfigMap key in the pod, is written to dir.
func memberEnvironment(t *testing.T, c *etcdv1.EtcdCluster, o render.Options, boot render.Bootstrap, pod, dir string) map[string]string {
	t.Helper()
	cm := render.ConfigMap(c, o, boot, "")
	sts := render.StatefulSet(c, o, c.DesiredReplicas(), render.DesiredRevision(c, o, render.Hash(render.EtcdOptions(c))), nil)
	i := slices.IndexFunc(sts.Spec.Template.Spec.Containers, func(ct corev1.Container) bool { return ct.Name == render.ContainerName })
	if i < 0 {
		t.Fatalf("no %s container", render.ContainerName)
	}
	env := map[string]string{}
	for _, e := range sts.Spec.Template.Spec.Containers[i].Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			env[e.Name] = map[string]string{"metadata.name": pod, "metadata.namespace": c.Namespace}[e.ValueFrom.FieldRef.FieldPath]
		case e.ValueFrom.ConfigMapKeyRef != nil:
			if v, ok := cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]; ok {
				env[e.Name] = v
			}
		}
	}
	options := filepath.Join(dir, "etcd.yaml")
	// The options file comes from the options ConfigMap the config volume names.
	optionsCM := render.OptionsConfigMap(c, render.Hash(render.EtcdOptions(c)))
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && slices.ContainsFunc(v.ConfigMap.Items, func(k corev1.KeyToPath) bool { return k.Key == render.ConfigKeyOptions }) && v.ConfigMap.Name != optionsCM.Name {
			t.Fatalf("the member mounts its options from ConfigMap %s, the operator writes them to %s", v.ConfigMap.Name, optionsCM.Name)
		}
	}
	if err := os.WriteFile(options, []byte(optionsCM.Data[render.ConfigKeyOptions]), 0o600); err != nil {
		t.Fatal(err)
	}
	env[contract.EnvConfigFile] = options
	mountTLSDirs(t, dir, env)
	mountTokenKey(t, c, env)
	return env
}

// mountTLSDirs stands in for the TLS Secrets mounted in a pod: each TLS
// directory the environment names becomes a directory under dir holding
// the Secret's keys, as the operator writes them.
func mountTLSDirs(t *testing.T, dir string, env map[string]string) {
	t.Helper()
	for _, name := range []string{contract.EnvServerTLSDir, contract.EnvPeerTLSDir} {
		if env[name] == "" {
			continue
		}
		d := filepath.Join(dir, strings.ToLower(name))
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey, "ca.crt"} {
			if err := os.WriteFile(filepath.Join(d, key), []byte("pem"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		env[name] = d
	}
}

func TestRenderedMemberEnvironmentStartsQuorumEtcd(t *testing.T) {
	for _, tls := range []bool{true, false} {
		t.Run(fmt.Sprintf("tls=%t", tls), func(t *testing.T) {
			c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", UID: "0f1e2d3c"}}
			c.Spec.TLS.Enabled = &tls
			o := render.Options{ImageRepository: "quorum.dev/etcd-server", ClusterDomain: "example.org"}
			boot := render.Bootstrap{State: render.StateNew, InitialCluster: render.InitialCluster(c, c.DesiredReplicas(), o.Domain())}
			pod := c.MemberName(1)
			env := memberEnvironment(t, c, o, boot, pod, t.TempDir())

			s, err := server.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatalf("quorum-etcd refuses the rendered environment: %v", err)
			}
			if s.Name != pod || s.ClusterState != contract.ClusterStateNew {
				t.Errorf("name %q state %q, want %q %q", s.Name, s.ClusterState, pod, contract.ClusterStateNew)
			}
			if got, want := s.AdvertisePeerURL.String(), c.MemberPeerURL(1, o.Domain()); got != want {
				t.Errorf("server advertises peer URL %s, operator expects %s", got, want)
			}
			if got, want := s.AdvertiseClientURL.String(), c.MemberClientURL(1, o.Domain()); got != want {
				t.Errorf("server advertises client URL %s, operator connects to %s", got, want)
			}
			if len(s.InitialCluster) != int(c.DesiredReplicas()) {
				t.Errorf("initial cluster %v, want %d members", s.InitialCluster, c.DesiredReplicas())
			}
			for name := range env {
				if strings.HasPrefix(name, "QUORUM_") && !slices.Contains(memberEnvNames, name) {
					t.Errorf("the operator renders %s, which is not in the contract", name)
				}
			}
		})
	}
}

// memberEnvNames are the QUORUM_ variables of the contract that serve reads.
var memberEnvNames = []string{
	contract.EnvPeerService, contract.EnvClusterDomain, contract.EnvInitialCluster, contract.EnvInitialClusterState,
	contract.EnvClusterToken, contract.EnvForceNewCluster, contract.EnvDataDir, contract.EnvConfigFile,
	contract.EnvServerTLSDir, contract.EnvPeerTLSDir, contract.EnvReadyTimeout, contract.EnvReplaceStaleData, contract.EnvTerminationLog,
	contract.EnvAuthToken, contract.EnvAuthTokenKeyDir, contract.EnvAuthTokenTTL,
}

func TestBootstrapStatesAgree(t *testing.T) {
	if render.StateNew != contract.ClusterStateNew || render.StateExisting != contract.ClusterStateExisting ||
		server.ClusterStateNew != contract.ClusterStateNew || server.ClusterStateExisting != contract.ClusterStateExisting {
		t.Fatal("the operator's and the server's bootstrap states differ")
	}
}

func TestBackupReportIsReadByTheOperator(t *testing.T) {
	m := backup.Manifest{Format: backup.ManifestFormat, SHA256: strings.Repeat("ab", 32), Size: 4096, StoredSize: 1024,
		EtcdRevision: 42, EtcdRevisionMax: 42, ClusterID: "cdf818194e3a8c32", MemberID: "8e9e05c52164694d",
		Endpoint: "https://db-0.db-peer.prod.svc.cluster.local:2379", EtcdVersion: "3.7.3", Location: "s3://bkt/key.db"}
	var r contract.BackupReport
	if err := contract.ReadReport("backup log line\n"+string(m.MarshalLine()), &r); err != nil {
		t.Fatal(err)
	}
	want := contract.BackupReport{SHA256: m.SHA256, Size: m.Size, StoredSize: m.StoredSize, EtcdRevision: m.EtcdRevision, ClusterID: m.ClusterID, EtcdVersion: m.EtcdVersion, Location: m.Location}
	if r != want {
		t.Errorf("operator read %+v from the manifest, want %+v", r, want)
	}
	if len(m.MarshalLine()) >= contract.MaxTerminationMessage {
		t.Errorf("manifest line of %d bytes does not fit a termination message", len(m.MarshalLine()))
	}
}

// TestPruneReportThroughTheTerminationLog runs quorum-etcd prune with
// QUORUM_TERMINATION_LOG set and reads the file as the operator reads the
// container's termination message.
func TestPruneReportThroughTheTerminationLog(t *testing.T) {
	dir, logFile := t.TempDir(), filepath.Join(t.TempDir(), "termination-log")
	for _, f := range []string{"snaps/a.db", "snaps/a.db" + contract.ManifestSuffix} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(logFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cio := backup.IO{Stdout: io.Discard, Stderr: io.Discard, Env: func(k string) (string, bool) {
		return logFile, k == contract.EnvTerminationLog
	}}
	if code := backup.PruneMain(t.Context(), []string{"--dir=" + dir, "--key=snaps/a.db"}, cio); code != backup.ExitOK {
		t.Fatalf("prune exited %d", code)
	}
	msg, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var r contract.PruneReport
	if err := contract.ReadReport(string(msg), &r); err != nil || !slices.Equal(r.Removed, []string{"snaps/a.db"}) {
		t.Fatalf("operator read %+v, %v from %q", r, err, msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "snaps/a.db"+contract.ManifestSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("manifest %s%s not removed: %v", "snaps/a.db", contract.ManifestSuffix, err)
	}
}

func TestDataLostIsRecognised(t *testing.T) {
	msg := "serve failed: " + fmt.Errorf("member db-1 is listed as started but its data dir is empty: %w", server.ErrDataLost).Error()
	if !contract.ReportsDataLost(msg) {
		t.Fatalf("the operator does not recognise %q", msg)
	}
	if contract.ReportsDataLost("serve failed: " + server.ErrStaleData.Error()) {
		t.Fatal("stale data is not data loss")
	}
}
