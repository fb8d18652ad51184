//go:build e2e

// Package e2e runs the operator, installed with its Helm chart, on a real
// cluster (hack/e2e.sh starts the local one) and checks what users see:
// Ready clusters that accept TLS clients and refuse everybody else.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

const (
	operatorNamespace = "quorum-system"
	release           = "quorum-operator"
)

var (
	k8s       client.Client
	clientset *kubernetes.Clientset
	repoRoot  = filepath.Join("..", "..")
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "e2e")
}

func run(name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "%s %v:\n%s", name, args, out)
	return string(out)
}

// The suite may run on several Ginkgo processes (`make test-e2e` uses
// E2E_PROCS, default 2): the CRDs and the operator are installed once, by
// process 1, before any spec; every process then builds its own clients.
// Specs that reinstall or kill the operator are marked Serial.
var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	connect()
	installOnce(ctx)
	return nil
}, func(ctx SpecContext, _ []byte) {
	connect()
}, NodeTimeout(5*time.Minute))

// connect builds the clients of this process from KUBECONFIG.
func connect() {
	if k8s != nil {
		return
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	Expect(err).NotTo(HaveOccurred(), "KUBECONFIG must name the cluster to test")
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(etcdv1.AddToScheme(scheme))
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	clientset = kubernetes.NewForConfigOrDie(cfg)
}

// installOnce installs the operator with its chart the way README tells
// users to: the chart creates and upgrades the CRDs. On a cluster whose CRDs
// were applied without Helm (kubectl, or an older chart's crds/ on a shared
// cluster), README's one-time adoption step comes first.
func installOnce(ctx context.Context) {
	adoptCRDs()

	By("installing the operator with its Helm chart")
	args := []string{"upgrade", "--install", release, "charts/quorum-operator", "--namespace", operatorNamespace,
		"--create-namespace", "--wait", "--timeout", "3m", "--set", "logLevel=debug"}
	if img := os.Getenv("OPERATOR_IMAGE_TAG"); img != "" {
		args = append(args, "--set", "image.tag="+img)
	}
	if digest := os.Getenv("OPERATOR_IMAGE_DIGEST"); digest != "" {
		// Same tag, new build: roll the operator.
		args = append(args, "--set-string", `podAnnotations.quorum\.dev/image-digest=`+digest)
	}
	run("helm", args...)
	dep := &appsv1.Deployment{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: release}, dep)).To(Succeed())
	Expect(dep.Status.AvailableReplicas).To(BeNumerically(">=", 1))
}

// adoptCRDs marks the Quorum CRDs that exist as the release's (README,
// "Upgrading from a chart that had crds/"), so that helm upgrades them
// instead of refusing them for their missing ownership metadata. Safe to
// repeat; nothing to do on a cluster without them.
func adoptCRDs() {
	crds := quorumCRDs()
	if len(crds) == 0 {
		return
	}
	By("adopting the CRDs that exist into the release (README's one-time step)")
	run("kubectl", append(append([]string{"label"}, crds...), "app.kubernetes.io/managed-by=Helm", "--overwrite")...)
	run("kubectl", append(append([]string{"annotate"}, crds...), "meta.helm.sh/release-name="+release,
		"meta.helm.sh/release-namespace="+operatorNamespace, "--overwrite")...)
}

var _ = SynchronizedAfterSuite(func() {}, func() {
	if os.Getenv("E2E_KEEP_OPERATOR") == "1" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "helm", "uninstall", release, "--namespace", operatorNamespace, "--wait")
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
})
