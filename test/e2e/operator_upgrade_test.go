//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/version"
)

// oldReleaseCluster is the EtcdCluster the previous release creates: YAML,
// so that only fields that release knows are sent to its CRDs.
const oldReleaseCluster = `apiVersion: etcd.quorum.dev/v1alpha1
kind: EtcdCluster
metadata:
  name: %NAME%
  namespace: %NS%
spec:
  replicas: 3
  version: "3.7.3"
  rollout:
    minReadySeconds: 5
`

// The README's upgrade path, from the release in hack/upgrade-base (built
// by hack/upgrade-base.sh, which hack/e2e.sh runs): the previous chart
// installed with its own CRDs (Helm's crds/), a cluster it made, then
// README's one-time CRD adoption and `helm upgrade` to this chart. The new
// operator must take the cluster over and roll each member once onto this
// release's server image, health-gated, with no acknowledged write lost.
var _ = Describe("Operator upgrade", Serial, func() {
	It("upgrading the operator from the previous release rolls each member once onto the new server image and loses no write", func(ctx SpecContext) {
		if os.Getenv("E2E_USE_EXISTING_CLUSTER") == "1" {
			Skip("the previous release's images are loaded into the local cluster only, and this spec deletes the Quorum CRDs")
		}
		if why := os.Getenv("E2E_UPGRADE_BASE_MISSING"); why != "" {
			Skip(why)
		}
		base := os.Getenv("E2E_UPGRADE_BASE")
		Expect(base).NotTo(BeEmpty(), "hack/e2e.sh sets E2E_UPGRADE_BASE (hack/upgrade-base.sh builds it)")
		tag, err := os.ReadFile(filepath.Join(base, "operator-tag"))
		Expect(err).NotTo(HaveOccurred())
		// Whatever happens below, the suite's operator is back afterwards.
		DeferCleanup(func(ctx SpecContext) { installOnce(ctx) }, NodeTimeout(5*time.Minute))

		By("removing this release's operator and CRDs (the running operator lets go of what is left)")
		crds := quorumCRDs()
		expectOnlySuiteObjects(crds)
		run("kubectl", append([]string{"delete", "--wait", "--timeout=3m"}, crds...)...)
		run("helm", "uninstall", release, "--namespace", operatorNamespace, "--wait")

		By("installing the previous release with its chart and its CRDs")
		run("helm", "install", release, filepath.Join(base, "chart"), "--namespace", operatorNamespace,
			"--wait", "--timeout", "3m", "--set", "image.tag="+strings.TrimSpace(string(tag)), "--set", "logLevel=debug")
		ns := newNamespace(ctx)
		name := "carried"
		manifest := filepath.Join(GinkgoT().TempDir(), "cluster.yaml")
		Expect(os.WriteFile(manifest, []byte(strings.NewReplacer("%NAME%", name, "%NS%", ns).Replace(oldReleaseCluster)), 0o600)).To(Succeed())
		run("kubectl", "apply", "-f", manifest)
		waitAvailable(ctx, ns, name, 3)
		oldImages := memberImages(ctx, ns, name)
		Expect(oldImages).To(HaveLen(3))
		newImage := "quorum.dev/etcd-server:3.7.3" + version.ServerTagSuffix()
		for pod, img := range oldImages {
			Expect(img).NotTo(Equal(newImage), "%s runs the previous release's server", pod)
		}

		pods := watchMemberPods(ctx, ns, name)
		cl := serviceClient(ctx, ns, name, clientTLS(ctx, ns, name))
		r := checkedRun(ctx, cl, "/upgrade/", "operator-upgrade-"+ns+".html", func() {
			By("upgrading to this release the README's way: adopt the CRDs, helm upgrade")
			installOnce(ctx)
			Eventually(func(g Gomega) {
				imgs := memberImages(ctx, ns, name)
				g.Expect(imgs).To(HaveLen(3))
				for pod, img := range imgs {
					g.Expect(img).To(Equal(newImage), "pod %s", pod)
				}
			}).WithContext(ctx).WithTimeout(8 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
			waitSpecDone(ctx, ns, name, 3)
		})
		GinkgoWriter.Printf("operator upgrade: %d operations, linearizable %v, lost %d, max write unavailability %v\n",
			r.res.Operations, r.res.Linearizable, len(r.lost), r.gap)
		Expect(r.res.Linearizable).To(BeTrue(), r.res.Description)
		Expect(r.watchBad).To(BeEmpty())
		Expect(r.lost).To(BeEmpty())

		By("each member was replaced exactly once, and no container restarted")
		incarnations, restarts := pods.stop()
		Expect(incarnations).To(HaveLen(3))
		for pod, uids := range incarnations {
			Expect(uids).To(HaveLen(2), "pod %s: the rollout replaces each member once (seen %v)", pod, uids)
		}
		Expect(restarts).To(BeEmpty())
		c := &etcdv1.EtcdCluster{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
		Expect(meta.IsStatusConditionTrue(c.Status.Conditions, etcdv1.ConditionReady)).To(BeTrue(), "conditions: %+v", c.Status.Conditions)
		expectEqualHashKV(ctx, ns, name, clientTLS(ctx, ns, name))
	}, SpecTimeout(20*time.Minute))
})

// quorumCRDs names the Quorum CRDs that exist, as kubectl's "crd/NAME".
func quorumCRDs() []string {
	var crds []string
	for _, name := range strings.Fields(run("kubectl", "get", "crd", "-o", "name")) {
		if strings.HasSuffix(name, ".etcd.quorum.dev") {
			crds = append(crds, name)
		}
	}
	return crds
}

// expectOnlySuiteObjects fails unless every object of the CRDs (kubectl's
// "customresourcedefinition.../NAME") is in a namespace this suite made
// (newNamespace's "e2e-" names): deleting a CRD deletes every object of its
// kind, and an EtcdCluster's members with it.
func expectOnlySuiteObjects(crds []string) {
	GinkgoHelper()
	resources := make([]string, 0, len(crds))
	for _, c := range crds {
		resources = append(resources, c[strings.LastIndex(c, "/")+1:])
	}
	out := run("kubectl", "get", strings.Join(resources, ","), "--all-namespaces", "--no-headers", "--ignore-not-found",
		"-o", "custom-columns=NAMESPACE:.metadata.namespace,KIND:.kind,NAME:.metadata.name")
	var foreign []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 && !strings.HasPrefix(f[0], "e2e-") {
			foreign = append(foreign, f[0]+"/"+f[1]+"/"+f[2])
		}
	}
	Expect(foreign).To(BeEmpty(), "refusing to delete the Quorum CRDs: these objects are not the suite's, and would be deleted with them")
}

// memberImages maps each running member pod of the cluster to its etcd
// container's image.
func memberImages(ctx context.Context, ns, name string) map[string]string {
	list := &corev1.PodList{}
	Expect(k8s.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{etcdv1.LabelInstance: name, etcdv1.LabelName: etcdv1.NameValue})).To(Succeed())
	out := map[string]string{}
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Spec.Containers {
			if c.Name == "etcd" {
				out[p.Name] = c.Image
			}
		}
	}
	return out
}

// memberPodName is a member pod's name after the cluster's name.
var memberPodName = regexp.MustCompile(`^-[0-9]+$`)

// podWatch records every incarnation (UID) of each member pod, and every
// container restart, from a watch opened when it starts.
type podWatch struct {
	mu           sync.Mutex
	incarnations map[string][]types.UID
	restarts     []string
	w            watch.Interface
	done         chan struct{}
}

func watchMemberPods(ctx context.Context, ns, name string) *podWatch {
	// Member pods only: the rollout's preflight pod carries the instance
	// label too, and is not a member.
	selector := etcdv1.LabelInstance + "=" + name + "," + etcdv1.LabelName + "=" + etcdv1.NameValue
	w, err := clientset.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	Expect(err).NotTo(HaveOccurred())
	p := &podWatch{incarnations: map[string][]types.UID{}, w: w, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok || !memberPodName.MatchString(strings.TrimPrefix(pod.Name, name)) {
				continue
			}
			p.mu.Lock()
			if uids := p.incarnations[pod.Name]; len(uids) == 0 || uids[len(uids)-1] != pod.UID {
				p.incarnations[pod.Name] = append(uids, pod.UID)
			}
			for _, cs := range pod.Status.ContainerStatuses {
				if cs.RestartCount > 0 {
					p.restarts = append(p.restarts, pod.Name+"/"+cs.Name)
				}
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// stop ends the watch and returns the UIDs seen per pod name and the
// containers seen restarted.
func (p *podWatch) stop() (map[string][]types.UID, []string) {
	p.w.Stop()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.incarnations, p.restarts
}
