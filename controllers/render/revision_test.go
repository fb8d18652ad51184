package render

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// desired is the revision of c's spec (simple tokens: the options hash).
func desired(c *etcdv1.EtcdCluster) Revision { return DesiredRevision(c, opts, Hash(EtcdOptions(c))) }

// testRevision is a revision of c's image with options hash "hash".
func testRevision(c *etcdv1.EtcdCluster) Revision {
	return Revision{Image: opts.Image(c), ConfigHash: "hash", OptionsConfigMap: c.OptionsConfigMapName("hash")}
}

func TestDesiredRevision(t *testing.T) {
	c := cluster(nil)
	d := desired(c)
	h := Hash(EtcdOptions(c))
	if d.Image != "quorum.dev/etcd-server:3.7.3" || d.ConfigHash != h || d.OptionsConfigMap != "db-options-"+h {
		t.Fatalf("desired revision %+v", d)
	}
	cases := []struct {
		name    string
		mut     func(*etcdv1.EtcdCluster)
		changed bool // Key and Same see a change
	}{
		{"same spec", func(*etcdv1.EtcdCluster) {}, false},
		{"pod template labels are not part of it", func(c *etcdv1.EtcdCluster) { c.Spec.PodTemplate.Labels = map[string]string{"a": "b"} }, false},
		{"an option", func(c *etcdv1.EtcdCluster) { c.Spec.EtcdOptions = map[string]string{"snapshot-count": "lots"} }, true},
		{"the version", func(c *etcdv1.EtcdCluster) { c.Spec.Version = "3.7.4" }, true},
		{"the compaction", func(c *etcdv1.EtcdCluster) { c.Spec.Compaction.Retention = "2h" }, true},
	}
	for _, tc := range cases {
		o := desired(cluster(tc.mut))
		if (o.Key() != d.Key()) != tc.changed || d.Same(o) == tc.changed {
			t.Errorf("%s: key %s vs %s, same %t; want changed %t", tc.name, o.Key(), d.Key(), d.Same(o), tc.changed)
		}
	}
	moved := d
	moved.OptionsConfigMap = c.ConfigMapName()
	if !d.Same(moved) || d.Key() != moved.Key() {
		t.Error("where the options are kept changed the revision")
	}
}

// The template renders the revision it is given, not the spec's: a held
// revision keeps the running image (in every container) and options.
func TestStatefulSetRendersTheRevision(t *testing.T) {
	running := cluster(nil)
	held := desired(running)
	c := cluster(func(c *etcdv1.EtcdCluster) {
		c.Spec.Version = "3.7.99"
		c.Spec.EtcdOptions = map[string]string{"snapshot-count": "lots"}
	})
	loc := etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: "bkt", CredentialsSecretName: "creds"}}
	s := StatefulSet(c, opts, 3, held, &RestoreSource{Location: loc, Key: "a/b.db", InPlaceID: "r1"})
	tpl := s.Spec.Template
	got, ok := RevisionOf(tpl.ObjectMeta, tpl.Spec)
	if !ok || got != held {
		t.Fatalf("template runs %+v (ok %t), want %+v", got, ok, held)
	}
	for _, ctr := range append(tpl.Spec.InitContainers, tpl.Spec.Containers...) {
		if ctr.Image != held.Image {
			t.Errorf("container %s runs %s, want the held %s", ctr.Name, ctr.Image, held.Image)
		}
	}
	for _, v := range tpl.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == c.ConfigMapName() {
			t.Errorf("volume %s mounts the cluster ConfigMap", v.Name)
		}
	}
	// A template made by an earlier operator version mounts the options
	// from the cluster ConfigMap; it is read as such.
	legacy := held
	legacy.OptionsConfigMap = c.ConfigMapName()
	old := StatefulSet(running, opts, 3, legacy, nil).Spec.Template
	if got, ok := RevisionOf(old.ObjectMeta, old.Spec); !ok || got != legacy {
		t.Errorf("legacy template read as %+v (ok %t)", got, ok)
	}
	if _, ok := RevisionOf(metav1.ObjectMeta{}, old.Spec); ok {
		t.Error("a template without a config hash read as a revision")
	}
}

func TestOptionsConfigMaps(t *testing.T) {
	c := cluster(func(c *etcdv1.EtcdCluster) { c.Spec.EtcdOptions = map[string]string{"snapshot-count": "5000"} })
	cm := OptionsConfigMap(c, Hash(EtcdOptions(c)))
	if cm.Name != desired(c).OptionsConfigMap || cm.Data[ConfigKeyOptions] != EtcdOptions(c) || len(cm.Data) != 1 {
		t.Errorf("options ConfigMap %s %v", cm.Name, cm.Data)
	}
	if cm.Labels[etcdv1.LabelComponent] != ComponentOptions || cm.Labels[etcdv1.LabelInstance] != "db" {
		t.Errorf("labels %v", cm.Labels)
	}
	boot := Bootstrap{State: StateNew, InitialCluster: "db-0=https://x:2380"}
	if _, ok := ConfigMap(c, opts, boot, "").Data[ConfigKeyOptions]; ok {
		t.Error("the cluster ConfigMap holds the spec's options: a member restarting from an older template would read them")
	}
	if got := ConfigMap(c, opts, boot, "old: 1\n").Data[ConfigKeyOptions]; got != "old: 1\n" {
		t.Errorf("legacy options %q not kept", got)
	}
}
