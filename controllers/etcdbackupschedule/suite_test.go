package etcdbackupschedule

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"quorum.dev/etcd-operator/controllers/internal/testenv"
)

// Tests of the reconciler's own passes against a real API server, called
// one at a time; the black-box tests of the running reconciler are in
// package controllers.

// k8s is the test API server's client (no cache).
var k8s client.Client

func TestEtcdBackupSchedule(t *testing.T) {
	testenv.RunSuite(t, "EtcdBackupSchedule reconciler suite", &k8s)
}
