package plugin

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	flag "github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// operatorSelector selects the operator's pods (the chart's
// app.kubernetes.io/name), in any namespace.
var operatorSelector = client.MatchingLabels{etcdv1.LabelName: "quorum-operator"}

// logTailLines bounds each log in the report.
const logTailLines = 5000

// Bundle is a support bundle being built: file path → content.
type Bundle map[string][]byte

// Add stores v as YAML at path (managedFields dropped), or the error.
func (b Bundle) Add(path string, v any) {
	if o, ok := v.(client.Object); ok {
		o.SetManagedFields(nil)
	}
	if l, ok := v.(client.ObjectList); ok {
		stripManagedFields(l)
	}
	out, err := yaml.Marshal(v)
	if err != nil {
		out = []byte("error: " + err.Error() + "\n")
	}
	b[path] = out
}

// SecretSummary lists Secrets by name, type and key names: never values.
func SecretSummary(secrets []corev1.Secret) []byte {
	var s strings.Builder
	s.WriteString("# Secrets: names, types and key names only; values are never collected.\n")
	sort.Slice(secrets, func(i, j int) bool { return secrets[i].Name < secrets[j].Name })
	for _, sec := range secrets {
		keys := make([]string, 0, len(sec.Data)+len(sec.StringData))
		for k := range sec.Data {
			keys = append(keys, k)
		}
		for k := range sec.StringData {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&s, "%s\ttype=%s\tkeys=%s\n", sec.Name, sec.Type, strings.Join(keys, ","))
	}
	return []byte(s.String())
}

// WriteTarGz writes the bundle as a gzipped tar under the directory dir,
// files in path order.
func (b Bundle) WriteTarGz(w io.Writer, dir string, now time.Time) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	paths := make([]string, 0, len(b))
	for p := range b {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := tw.WriteHeader(&tar.Header{Name: dir + "/" + p, Mode: 0o644, Size: int64(len(b[p])), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(b[p]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func stripManagedFields(l client.ObjectList) {
	switch l := l.(type) {
	case *corev1.PodList:
		for i := range l.Items {
			l.Items[i].ManagedFields = nil
		}
	case *corev1.EventList:
		for i := range l.Items {
			l.Items[i].ManagedFields = nil
		}
	}
}

// runReport: `report NAME [-o FILE]`.
func runReport(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	output := fs.StringP("output", "o", "", "file to write (default report-NAMESPACE-NAME-YYYYMMDD-HHMMSS.tar.gz)")
	pos, err := parse(env, fs, args, 1)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	dir := fmt.Sprintf("report-%s-%s-%s", env.Namespace, pos[0], now.Format("20060102-150405"))
	if *output == "" {
		*output = dir + ".tar.gz"
	}
	b, err := collect(ctx, env, pos[0])
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := b.WriteTarGz(&buf, dir, now); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if err := os.WriteFile(*output, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	fmt.Fprintf(env.Out, "wrote %s (%d files)\n", *output, len(b))
	return nil
}

// collect reads everything the report holds. What cannot be read is noted
// in the bundle (errors.txt) rather than failing the whole report.
func collect(ctx context.Context, env *Env, name string) (Bundle, error) {
	b := Bundle{}
	var errs []string
	note := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", what, err))
		}
	}
	c, err := getCluster(ctx, env, name)
	if err != nil {
		return nil, err
	}
	ns := c.Namespace
	inNS := client.InNamespace(ns)
	owned := client.MatchingLabels{etcdv1.LabelInstance: c.Name}
	b.Add("etcdcluster.yaml", c.DeepCopy())

	if in, err := gatherStatus(ctx, env, name); err == nil {
		var s bytes.Buffer
		note("rendering status", RenderStatus(&s, in, time.Now()))
		b["status.txt"] = s.Bytes()
	} else {
		note("status", err)
	}
	lists := []struct {
		file string
		list client.ObjectList
		opts []client.ListOption
	}{
		{"etcdbackups.yaml", &etcdv1.EtcdBackupList{}, []client.ListOption{inNS}},
		{"etcdrestores.yaml", &etcdv1.EtcdRestoreList{}, []client.ListOption{inNS}},
		{"etcdbackupschedules.yaml", &etcdv1.EtcdBackupScheduleList{}, []client.ListOption{inNS}},
		{"statefulsets.yaml", &appsv1.StatefulSetList{}, []client.ListOption{inNS, owned}},
		{"pods.yaml", &corev1.PodList{}, []client.ListOption{inNS, owned}},
		{"persistentvolumeclaims.yaml", &corev1.PersistentVolumeClaimList{}, []client.ListOption{inNS, owned}},
		{"services.yaml", &corev1.ServiceList{}, []client.ListOption{inNS, owned}},
		{"configmaps.yaml", &corev1.ConfigMapList{}, []client.ListOption{inNS, owned}},
		{"poddisruptionbudgets.yaml", &policyv1.PodDisruptionBudgetList{}, []client.ListOption{inNS, owned}},
		{"events.yaml", &corev1.EventList{}, []client.ListOption{inNS}},
	}
	for _, l := range lists {
		if err := env.Client.List(ctx, l.list, l.opts...); err != nil {
			note("listing for "+l.file, err)
			continue
		}
		b.Add(l.file, l.list)
	}
	secrets := &corev1.SecretList{}
	if err := env.Client.List(ctx, secrets, inNS); err != nil {
		note("listing Secrets", err)
	} else {
		b["secrets.txt"] = SecretSummary(secrets.Items)
		secrets.Items = nil // nothing past this point may read them
	}

	members := &corev1.PodList{}
	note("listing member pods", env.Client.List(ctx, members, inNS, client.MatchingLabels(c.SelectorLabels())))
	for _, p := range members.Items {
		for _, ctr := range append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
			addLogs(ctx, env, b, note, "logs/members/", &p, ctr.Name)
		}
	}
	operators := &corev1.PodList{}
	note("listing operator pods", env.Client.List(ctx, operators, operatorSelector))
	for _, p := range operators.Items {
		for _, ctr := range p.Spec.Containers {
			addLogs(ctx, env, b, note, "logs/operator/", &p, ctr.Name)
		}
	}

	for _, cmd := range [][]string{{"endpoint", "status", "-w", "table"}, {"endpoint", "health", "-w", "table"}, {"member", "list", "-w", "table"}, {"alarm", "list"}} {
		var out, errOut bytes.Buffer
		err := runEtcdctlIn(ctx, env, c, cmd, &out, &errOut)
		text := out.String() + errOut.String()
		if err != nil {
			text += "error: " + err.Error() + "\n"
		}
		b["etcdctl/"+strings.Join(cmd[:2], "-")+".txt"] = []byte(text)
	}
	if len(errs) > 0 {
		b["errors.txt"] = []byte(strings.Join(errs, "\n") + "\n")
	}
	return b, nil
}

// addLogs adds the current and, when the container restarted, the
// previous log of one container.
func addLogs(ctx context.Context, env *Env, b Bundle, note func(string, error), dir string, p *corev1.Pod, container string) {
	tail := int64(logTailLines)
	for _, previous := range []bool{false, true} {
		if previous && !restarted(p, container) {
			continue
		}
		raw, err := env.Clientset.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: container, TailLines: &tail, Previous: previous}).DoRaw(ctx)
		if err != nil {
			note(fmt.Sprintf("logs of %s/%s container %s (previous %v)", p.Namespace, p.Name, container, previous), err)
			continue
		}
		file := dir + p.Namespace + "_" + p.Name + "_" + container
		if previous {
			file += ".previous"
		}
		b[file+".log"] = raw
	}
}

func restarted(p *corev1.Pod, container string) bool {
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if cs.Name == container {
			return cs.RestartCount > 0
		}
	}
	return false
}
