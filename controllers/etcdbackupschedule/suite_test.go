package etcdbackupschedule

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"quorum.dev/etcd-operator/controllers/internal/testenv"
)

// Tests of the reconciler's own passes against a real API server, called
// one at a time; the black-box tests of the running reconciler are in
// package controllers.

var (
	env *testenv.Env
	k8s client.Client
)

func TestEtcdBackupSchedule(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "EtcdBackupSchedule reconciler suite")
}

var _ = BeforeSuite(func() {
	var err error
	env, err = testenv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8s = env.Client
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
