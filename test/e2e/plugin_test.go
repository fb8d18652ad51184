//go:build e2e

package e2e

import (
	"archive/tar"
	"compress/gzip"
	"encoding/base64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/etcdserver/backup/s3test"
)

// readTarGz returns the files of a gzipped tar: name → content.
func readTarGz(path string) map[string]string {
	f, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	gz, err := gzip.NewReader(f)
	Expect(err).NotTo(HaveOccurred())
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		Expect(err).NotTo(HaveOccurred())
		b, err := io.ReadAll(tr)
		Expect(err).NotTo(HaveOccurred())
		files[h.Name] = string(b)
	}
}

var _ = Describe("kubectl quorum plugin", func() {
	It("shows status, runs etcdctl with the cluster's credentials, backs up, restores, defragments and writes a report without Secret values", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		bin := filepath.Join(dir, "kubectl-quorum")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/kubectl-quorum")
		build.Dir = repoRoot
		built, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "building the plugin:\n%s", built)

		srv := s3test.StartWith(GinkgoTB(), s3test.Options{Host: minioHost()})
		bucket := srv.NewBucket(GinkgoTB())
		ns := newNamespace(ctx)
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: ns}, StringData: map[string]string{
			"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}})).To(Succeed())
		createCluster(ctx, ns, "plug", 1, nil)
		waitAvailable(ctx, ns, "plug", 1)

		plugin := func(args ...string) (string, error) {
			cmd := exec.CommandContext(ctx, bin, append([]string{"-n", ns}, args...)...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			GinkgoWriter.Printf("$ kubectl quorum %s\n%s\n", strings.Join(args, " "), out)
			return string(out), err
		}

		By("status: one screen with the member, certificates, backups and conditions")
		out, err := plugin("status", "plug")
		Expect(err).NotTo(HaveOccurred(), out)
		for _, want := range []string{"Cluster    " + ns + "/plug", "plug-0", "Leader", "3.7.3", " yes ", "plug-server-tls  expires", "Last backup  none succeeded", "Available", "Operation  none"} {
			Expect(out).To(ContainSubstring(want))
		}

		By("etcdctl: endpoint status from inside a member, as root through the mounted client certificate")
		out, err = plugin("etcdctl", "plug", "--", "endpoint", "status", "-w", "table")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("https://plug-0.plug-peer." + ns + ".svc"))
		Expect(out).To(ContainSubstring("3.7.3"))
		out, err = plugin("etcdctl", "plug", "--", "put", "/plugin", "written")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("OK"))

		By("move-leader to the only member: nothing to do")
		out, err = plugin("move-leader", "plug", "--to", "plug-0")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("already leads plug: nothing to do"))

		By("backup: creates an EtcdBackup and follows it to Succeeded")
		out, err = plugin("backup", "plug", "--name", "b1", "--s3-endpoint", srv.Endpoint, "--s3-bucket", bucket, "--s3-prefix", "plugin",
			"--s3-insecure", "--s3-credentials-secret", "s3", "--timeout", "3m")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("etcdbackup/b1 created"))
		Expect(out).To(ContainSubstring("Succeeded: revision"))
		b := &etcdv1.EtcdBackup{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "b1"}, b)).To(Succeed())
		Expect(b.Status.Phase).To(Equal(etcdv1.BackupSucceeded))
		out, err = plugin("status", "plug")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("Last backup  b1,"))

		By("restore without --yes: refused, nothing created")
		out, err = plugin("restore", "plug", "--backup", "b1")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("run again with --yes"))
		restores := &etcdv1.EtcdRestoreList{}
		Expect(k8s.List(ctx, restores, client.InNamespace(ns))).To(Succeed())
		Expect(restores.Items).To(BeEmpty())

		By("restore --yes: puts b1 back in place; a write made after it is gone")
		out, err = plugin("etcdctl", "plug", "--", "put", "/after-backup", "lost")
		Expect(err).NotTo(HaveOccurred(), out)
		out, err = plugin("restore", "plug", "--backup", "b1", "--yes", "--name", "r1", "--timeout", "4m")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("etcdrestore/r1 created"))
		Expect(out).To(ContainSubstring("Succeeded: cluster ID"))
		waitAvailable(ctx, ns, "plug", 1)
		Eventually(func(g Gomega) {
			out, err := plugin("etcdctl", "plug", "--", "get", "--prefix", "/")
			g.Expect(err).NotTo(HaveOccurred(), out)
			g.Expect(out).To(ContainSubstring("/plugin\nwritten"))
			g.Expect(out).NotTo(ContainSubstring("/after-backup"))
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(2 * time.Second).Should(Succeed())

		By("defrag --request: the operator defragments the member once")
		out, err = plugin("defrag", "plug", "--request", "--timeout", "2m")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("There is no defragmentation resource"))
		Expect(out).To(ContainSubstring("done: every member defragmented"))
		c := &etcdv1.EtcdCluster{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "plug"}, c)).To(Succeed())
		Expect(c.Status.Defragmentation).NotTo(BeNil())
		Expect(c.Status.Defragmentation.Members).To(ContainElement(HaveField("Trigger", etcdv1.DefragTriggerRequest)))

		By("report: resources, events, logs and endpoint status, and no Secret value anywhere")
		out, err = plugin("report", "plug", "-o", "report.tar.gz")
		Expect(err).NotTo(HaveOccurred(), out)
		files := readTarGz(filepath.Join(dir, "report.tar.gz"))
		byBase := map[string]string{}
		for name, content := range files {
			byBase[strings.SplitN(name, "/", 2)[1]] = content
		}
		Expect(byBase).To(HaveKey("etcdcluster.yaml"))
		Expect(byBase).To(HaveKey("events.yaml"))
		Expect(byBase).To(HaveKey("etcdbackups.yaml"))
		Expect(byBase["secrets.txt"]).To(ContainSubstring("plug-client-tls\ttype=kubernetes.io/tls\tkeys=ca.crt,tls.crt,tls.key"))
		Expect(byBase["status.txt"]).To(ContainSubstring("plug-0"))
		Expect(byBase["etcdctl/endpoint-status.txt"]).To(ContainSubstring("plug-0.plug-peer"))
		Expect(byBase).To(HaveKey(ContainSubstring("logs/members/" + ns + "_plug-0_etcd")))
		Expect(byBase).To(HaveKey(ContainSubstring("logs/operator/" + operatorNamespace + "_")))
		secrets := &corev1.SecretList{}
		Expect(k8s.List(ctx, secrets, client.InNamespace(ns))).To(Succeed())
		checked := 0
		for _, s := range secrets.Items {
			for key, value := range s.Data {
				// The root password record's cluster-id is the cluster ID
				// that status.clusterID shows: not a secret.
				if len(value) < 8 || (s.Name == "plug-root-password-applied" && key == "cluster-id") {
					continue
				}
				checked++
				for name, content := range files {
					Expect(strings.Contains(content, string(value))).To(BeFalse(), "%s holds Secret %s key %s", name, s.Name, key)
					Expect(strings.Contains(content, base64.StdEncoding.EncodeToString(value))).To(BeFalse(), "%s holds Secret %s key %s (base64)", name, s.Name, key)
				}
			}
		}
		Expect(checked).To(BeNumerically(">=", 5), "the client, server and peer keys, the CA and the S3 key were looked for")
	}, SpecTimeout(6*time.Minute))
})
