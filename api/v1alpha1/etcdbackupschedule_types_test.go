package v1alpha1

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The template mirrors EtcdBackupSpec field for field (it only exists
// because EtcdBackupSpec carries an immutability rule): a field added to
// one must be added to the other and to BackupSpec.
func TestBackupTemplateMirrorsBackupSpec(t *testing.T) {
	fields := func(v any) map[string]reflect.Type {
		out := map[string]reflect.Type{}
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			out[rt.Field(i).Tag.Get("json")] = rt.Field(i).Type
		}
		return out
	}
	if spec, tmpl := fields(EtcdBackupSpec{}), fields(EtcdBackupTemplate{}); !reflect.DeepEqual(spec, tmpl) {
		t.Fatalf("EtcdBackupSpec fields %v, EtcdBackupTemplate fields %v", spec, tmpl)
	}

	tmpl := EtcdBackupTemplate{
		ClusterName: "db",
		Destination: BackupLocation{S3: &S3Location{Endpoint: "s3:9000", Bucket: "bkt", Prefix: "p", CredentialsSecretName: "c",
			CA: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}, Key: "ca.crt"}}},
		Compression:   "none",
		EncryptionKey: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "k"}, Key: "key"},
	}
	spec := tmpl.BackupSpec()
	// Every field set in the template is set in the spec: compare as the
	// same type through the field-for-field correspondence above.
	got := EtcdBackupTemplate{ClusterName: spec.ClusterName, Destination: spec.Destination, Compression: spec.Compression, EncryptionKey: spec.EncryptionKey}
	if !reflect.DeepEqual(got, tmpl) {
		t.Fatalf("BackupSpec() = %+v, want the template's fields %+v", spec, tmpl)
	}
	spec.Destination.S3.Bucket, spec.EncryptionKey.Key = "changed", "changed"
	if tmpl.Destination.S3.Bucket != "bkt" || tmpl.EncryptionKey.Key != "key" {
		t.Fatal("BackupSpec() shares memory with the template")
	}
}

func TestBackupName(t *testing.T) {
	s := &EtcdBackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}}
	slot := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	if got := s.BackupName(slot); got != "nightly-1777600800" {
		t.Fatalf("BackupName = %q", got)
	}
	if got := s.BackupName(slot.In(time.FixedZone("x", 3600))); got != "nightly-1777600800" {
		t.Fatalf("BackupName depends on the zone: %q", got)
	}
}
