package contract_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
	"quorum.dev/etcd-operator/etcdserver/server"
)

// preflightEnvironment resolves the preflight Job's container environment
// as the kubelet would: literal values, field references, the cluster
// ConfigMap's keys, the options file from the pod annotation the downward
// API volume mounts, and the TLS Secrets as files under dir.
func preflightEnvironment(t *testing.T, c *etcdv1.EtcdCluster, o render.Options, dir string) map[string]string {
	t.Helper()
	cm := render.ConfigMap(c, o, render.Bootstrap{State: render.StateExisting, InitialCluster: render.InitialCluster(c, 3, o.Domain())}, "")
	job := render.PreflightJob(c, o, "5d8f7c", c.MemberName(2), "node-a")
	pod := job.Spec.Template
	env := map[string]string{}
	for _, e := range pod.Spec.Containers[0].Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			env[e.Name] = map[string]string{"metadata.namespace": c.Namespace}[e.ValueFrom.FieldRef.FieldPath]
		case e.ValueFrom.ConfigMapKeyRef != nil:
			if v, ok := cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]; ok {
				env[e.Name] = v
			}
		}
	}
	// The file the member's config mount would hold, here from the
	// downward API volume that replaces it.
	var mounted bool
	for _, v := range pod.Spec.Volumes {
		if v.DownwardAPI != nil && len(v.DownwardAPI.Items) == 1 && v.DownwardAPI.Items[0].Path == render.ConfigKeyOptions {
			mounted = v.DownwardAPI.Items[0].FieldRef.FieldPath == "metadata.annotations['"+render.AnnotationPreflightOptions+"']"
		}
	}
	if !mounted || !strings.HasSuffix(env["QUORUM_CONFIG_FILE"], "/"+render.ConfigKeyOptions) {
		t.Fatalf("the preflight pod does not mount its options annotation where QUORUM_CONFIG_FILE (%s) points", env["QUORUM_CONFIG_FILE"])
	}
	options := filepath.Join(dir, render.ConfigKeyOptions)
	if err := os.WriteFile(options, []byte(pod.Annotations[render.AnnotationPreflightOptions]), 0o600); err != nil {
		t.Fatal(err)
	}
	env["QUORUM_CONFIG_FILE"] = options
	mountTLSDirs(t, dir, env)
	mountTokenKey(t, c, env)
	return env
}

func TestRenderedPreflightJobChecksTheNewSpec(t *testing.T) {
	o := render.Options{ImageRepository: "quorum.dev/etcd-server", ClusterDomain: "example.org"}
	for _, tc := range []struct {
		name    string
		options map[string]string
		wantErr string
	}{
		{"accepted", map[string]string{"snapshot-count": "20000"}, ""},
		{"a number etcd cannot read", map[string]string{"snapshot-count": "lots"}, "snapshot-count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", UID: "0f1e2d3c"}}
			c.Spec.EtcdOptions = tc.options
			env := preflightEnvironment(t, c, o, t.TempDir())
			if env["POD_NAME"] != c.MemberName(2) {
				t.Errorf("POD_NAME %q, want the member checked for, %q", env["POD_NAME"], c.MemberName(2))
			}
			_, err := server.Preflight(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("quorum-etcd preflight refuses the rendered job: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("preflight error %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}
