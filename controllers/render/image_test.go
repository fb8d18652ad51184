package render

import (
	"testing"

	"quorum.dev/etcd-operator/internal/version"
)

// The members' image tag carries the operator's release after the etcd
// version, so an operator release changes the StatefulSet's image (and
// rolls the members) even when the etcd version stays.
func TestImageTagCarriesTheRelease(t *testing.T) {
	o := Options{ImageRepository: "example.com/etcd", ImageTagSuffix: version.ServerTagSuffix()}
	c := cluster(nil)
	c.Spec.Version = "3.6.16"
	if got, want := o.Image(c), "example.com/etcd:3.6.16-quorum."+version.Version; got != want {
		t.Errorf("Image = %q, want %q", got, want)
	}
	if got, want := o.DefaultImage(), "example.com/etcd:"+DefaultVersion+"-quorum."+version.Version; got != want {
		t.Errorf("DefaultImage = %q, want %q", got, want)
	}
	next := o
	next.ImageTagSuffix = "-quorum.9.9.9"
	h := Hash(EtcdOptions(c))
	if DesiredRevision(c, o, h).Same(DesiredRevision(c, next, h)) {
		t.Error("a new release is the same revision: an operator upgrade would not roll the members")
	}
}
