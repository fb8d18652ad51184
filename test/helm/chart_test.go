// Package helm tests the operator chart by rendering it with the real helm
// binary (HELM names it; `make test` builds it) and reading the objects.
package helm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

var chart = filepath.Join("..", "..", "charts", "quorum-operator")

func helm(t *testing.T, args ...string) string {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		t.Fatal("HELM must name the helm binary (make test sets it)")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("helm %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// render returns the rendered objects by kind/name.
func render(t *testing.T, set ...string) map[string][]byte {
	t.Helper()
	args := []string{"template", "quorum-operator", chart, "--namespace", "quorum-system", "--include-crds"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out := helm(t, args...)
	objs := map[string][]byte{}
	for _, doc := range strings.Split(out, "\n---") {
		doc = strings.TrimSpace(doc)
		if doc == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if u.GetKind() == "" {
			continue
		}
		objs[u.GetKind()+"/"+u.GetName()] = []byte(doc)
	}
	return objs
}

func TestLint(t *testing.T) {
	if out := helm(t, "lint", "--strict", chart); !strings.Contains(out, "0 chart(s) failed") {
		t.Fatalf("lint:\n%s", out)
	}
}

func TestChartRBACMatchesGeneratedRole(t *testing.T) {
	objs := render(t)
	got := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(objs["ClusterRole/quorum-operator"], got); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(raw, want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Rules, want.Rules) {
		t.Fatalf("chart ClusterRole rules differ from config/rbac/role.yaml:\n%v\n%v", got.Rules, want.Rules)
	}
	for _, r := range got.Rules {
		for _, field := range [][]string{r.APIGroups, r.Resources, r.Verbs} {
			for _, v := range field {
				if v == "*" {
					t.Errorf("wildcard in operator RBAC rule %+v", r)
				}
			}
		}
	}
	if _, ok := objs["ClusterRoleBinding/quorum-operator"]; !ok {
		t.Error("no ClusterRoleBinding")
	}
}

func TestChartCRDsAreTheGeneratedOnes(t *testing.T) {
	objs := render(t)
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "etcd.quorum.dev_etcdclusters.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := objs["CustomResourceDefinition/etcdclusters.etcd.quorum.dev"]
	if !ok {
		t.Fatal("chart has no EtcdCluster CRD")
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(bytes.TrimPrefix(raw, []byte("---\n")))) {
		t.Fatal("chart CRD differs from config/crd/bases: run make generate")
	}
}

func TestDeploymentValues(t *testing.T) {
	cases := []struct {
		name string
		set  []string
		want []string
	}{
		{"defaults", nil, []string{"--leader-elect=true", "--etcd-image-repository=quorum.dev/etcd-server", "--watch-namespaces=", "--metrics-bind-address=:8080"}},
		{"watch namespaces and no metrics", []string{"watchNamespaces={a,b}", "metrics.enabled=false", "leaderElection.enabled=false"},
			[]string{"--watch-namespaces=a,b", "--metrics-bind-address=0", "--leader-elect=false"}},
		{"custom image", []string{"image.repository=example.com/q", "image.tag=9.9.9", "etcdImageRepository=example.com/etcd"},
			[]string{"--etcd-image-repository=example.com/etcd"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.set...)
			d := &appsv1.Deployment{}
			if err := yaml.Unmarshal(objs["Deployment/quorum-operator"], d); err != nil {
				t.Fatal(err)
			}
			ctr := d.Spec.Template.Spec.Containers[0]
			args := strings.Join(ctr.Args, " ")
			for _, w := range tc.want {
				if !strings.Contains(args+" ", w+" ") {
					t.Errorf("args %q lack %q", args, w)
				}
			}
			if tc.name == "custom image" && ctr.Image != "example.com/q:9.9.9" {
				t.Errorf("image %q", ctr.Image)
			}
			if tc.name == "defaults" && ctr.Image != "quorum.dev/etcd-operator:0.1.0" {
				t.Errorf("image %q", ctr.Image)
			}
			sc := ctr.SecurityContext
			if sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !*d.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
				t.Error("operator pod must be non-root with a read-only root filesystem")
			}
		})
	}
	d := &appsv1.Deployment{}
	if err := yaml.Unmarshal(render(t, "extraEnv[0].name=QUORUM_FAILPOINTS", "extraEnv[0].value=x")["Deployment/quorum-operator"], d); err != nil {
		t.Fatal(err)
	}
	env := d.Spec.Template.Spec.Containers[0].Env
	if len(env) != 2 || env[0].Name != "POD_NAMESPACE" || env[1].Name != "QUORUM_FAILPOINTS" || env[1].Value != "x" {
		t.Errorf("extraEnv not passed through: %+v", env)
	}
	if _, ok := render(t, "metrics.enabled=false")["Service/quorum-operator-metrics"]; ok {
		t.Error("metrics Service rendered with metrics disabled")
	}
}
