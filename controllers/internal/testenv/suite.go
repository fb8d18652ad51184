package testenv

import (
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// RunSuite runs the Ginkgo specs of a package named name against a test
// API server (Start) started before them and stopped after; *k8s is its
// client while they run. Call it from the package's one Test function.
func RunSuite(t *testing.T, name string, k8s *client.Client) {
	RunSuiteWithConfig(t, name, k8s, nil)
}

// RunSuiteWithConfig is RunSuite that also sets *cfg (when cfg is not nil)
// to the API server's connection settings, for specs that start a
// manager of their own.
func RunSuiteWithConfig(t *testing.T, name string, k8s *client.Client, cfg **rest.Config) {
	gomega.RegisterFailHandler(ginkgo.Fail)
	var env *Env
	ginkgo.BeforeSuite(func() {
		var err error
		env, err = Start()
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		*k8s = env.Client
		if cfg != nil {
			*cfg = env.Config
		}
	})
	ginkgo.AfterSuite(func() {
		if env != nil {
			gomega.Expect(env.Stop()).To(gomega.Succeed())
		}
	})
	ginkgo.RunSpecs(t, name)
}
