package plugin

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/contract"
)

func TestBackupSpecFor(t *testing.T) {
	sched := func(name, cluster, bucket string) etcdv1.EtcdBackupSchedule {
		return etcdv1.EtcdBackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: etcdv1.EtcdBackupScheduleSpec{BackupTemplate: etcdv1.EtcdBackupTemplate{
			ClusterName: cluster, Compression: "gzip", Destination: etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3:9000", Bucket: bucket, CredentialsSecretName: "creds"}}}}}
	}
	nightly, other, weekly := sched("nightly", "db", "nightly-bucket"), sched("other", "other-db", "x"), sched("weekly", "db", "weekly-bucket")
	for _, tc := range []struct {
		name      string
		flags     BackupFlags
		schedules []etcdv1.EtcdBackupSchedule
		want      etcdv1.BackupLocation
		wantErr   string
	}{
		{name: "s3 flags", flags: BackupFlags{S3Endpoint: "minio:9000", S3Bucket: "b", S3Prefix: "p", S3Insecure: true, S3Credentials: "s"},
			want: etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "minio:9000", Bucket: "b", Prefix: "p", Insecure: true, CredentialsSecretName: "s"}}},
		{name: "s3 flags incomplete", flags: BackupFlags{S3Endpoint: "minio:9000"},
			wantErr: "an S3 destination also needs --s3-bucket, --s3-credentials-secret, --s3-web-identity-sa or --s3-instance-role"},
		{name: "s3 without credentials", flags: BackupFlags{S3Endpoint: "minio:9000", S3Bucket: "b"},
			wantErr: "an S3 destination also needs --s3-credentials-secret, --s3-web-identity-sa or --s3-instance-role"},
		{name: "web identity", flags: BackupFlags{S3Endpoint: "s3.amazonaws.com", S3Bucket: "b", S3Region: "eu-west-1",
			S3WebIdentitySA: "etcd-backup", S3RoleARN: "arn:aws:iam::1:role/r", S3STSEndpoint: "https://sts.eu-west-1.amazonaws.com", S3Audience: "aud"},
			want: etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3.amazonaws.com", Bucket: "b", Region: "eu-west-1",
				WebIdentity: &etcdv1.S3WebIdentity{ServiceAccountName: "etcd-backup", RoleARN: "arn:aws:iam::1:role/r",
					STSEndpoint: "https://sts.eu-west-1.amazonaws.com", Audience: "aud"}}}},
		{name: "instance role", flags: BackupFlags{S3Endpoint: "s3.amazonaws.com", S3Bucket: "b", S3InstanceRole: true},
			want: etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3.amazonaws.com", Bucket: "b", InstanceRole: &etcdv1.S3InstanceRole{}}}},
		{name: "instance role with a service account", flags: BackupFlags{S3Endpoint: "s3.amazonaws.com", S3Bucket: "b", S3InstanceRoleSA: "pod-identity"},
			want: etcdv1.BackupLocation{S3: &etcdv1.S3Location{Endpoint: "s3.amazonaws.com", Bucket: "b", InstanceRole: &etcdv1.S3InstanceRole{ServiceAccountName: "pod-identity"}}}},
		{name: "a Secret and a web identity", flags: BackupFlags{S3Endpoint: "e", S3Bucket: "b", S3Credentials: "s", S3WebIdentitySA: "sa"},
			wantErr: "not --s3-credentials-secret and --s3-web-identity-sa together"},
		{name: "a web identity and an instance role", flags: BackupFlags{S3Endpoint: "e", S3Bucket: "b", S3WebIdentitySA: "sa", S3InstanceRole: true},
			wantErr: "not --s3-web-identity-sa and --s3-instance-role together"},
		{name: "a Secret and an instance role's service account", flags: BackupFlags{S3Endpoint: "e", S3Bucket: "b", S3Credentials: "s", S3InstanceRoleSA: "sa"},
			wantErr: "not --s3-credentials-secret and --s3-instance-role together"},
		{name: "a role without a web identity", flags: BackupFlags{S3Endpoint: "e", S3Bucket: "b", S3Credentials: "s", S3RoleARN: "arn:aws:iam::1:role/r"},
			wantErr: "--s3-role-arn, --s3-sts-endpoint and --s3-audience go with --s3-web-identity-sa"},
		{name: "a web identity and a claim", flags: BackupFlags{PVC: "backups", S3WebIdentitySA: "sa"}, wantErr: "not both"},
		{name: "pvc", flags: BackupFlags{PVC: "backups", PVCPrefix: "db"}, want: etcdv1.BackupLocation{PVC: &etcdv1.PVCLocation{ClaimName: "backups", Prefix: "db"}}},
		{name: "both", flags: BackupFlags{PVC: "backups", S3Bucket: "b"}, wantErr: "not both"},
		{name: "the only schedule of the cluster", schedules: []etcdv1.EtcdBackupSchedule{other, nightly}, want: nightly.Spec.BackupTemplate.Destination},
		{name: "no schedule", schedules: []etcdv1.EtcdBackupSchedule{other}, wantErr: "db has no EtcdBackupSchedule to take the destination from"},
		{name: "two schedules", schedules: []etcdv1.EtcdBackupSchedule{nightly, weekly}, wantErr: "several EtcdBackupSchedules (nightly, weekly): name one with --schedule"},
		{name: "named schedule", flags: BackupFlags{Schedule: "weekly"}, schedules: []etcdv1.EtcdBackupSchedule{nightly, weekly}, want: weekly.Spec.BackupTemplate.Destination},
		{name: "schedule of another cluster", flags: BackupFlags{Schedule: "other"}, schedules: []etcdv1.EtcdBackupSchedule{other}, wantErr: "EtcdBackupSchedule other does not back up db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := BackupSpecFor("db", tc.flags, tc.schedules)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ClusterName != "db" || !reflect.DeepEqual(got.Destination, tc.want) {
				t.Errorf("spec = %+v (destination %+v), want cluster db, destination %+v", got, got.Destination, tc.want)
			}
		})
	}
}

func TestEtcdctlArgsAndRedact(t *testing.T) {
	eps := []string{"https://db-0.db-peer.ns.svc.cluster.local:2379", "https://db-1.db-peer.ns.svc.cluster.local:2379"}
	for _, tc := range []struct {
		name     string
		target   EtcdctlTarget
		args     []string
		want     []string
		redacted []string
	}{
		{"tls: endpoints only", EtcdctlTarget{Endpoints: eps}, []string{"endpoint", "status"},
			[]string{"etcdctl", "--endpoints=" + eps[0] + "," + eps[1], "endpoint", "status"}, nil},
		{"own endpoints kept", EtcdctlTarget{Endpoints: eps}, []string{"--endpoints=https://127.0.0.1:2379", "get", "k"},
			[]string{"etcdctl", "--endpoints=https://127.0.0.1:2379", "get", "k"}, nil},
		{"auth without tls", EtcdctlTarget{Endpoints: eps[:1], Password: "s3cret"}, []string{"get", "k"},
			[]string{"etcdctl", "--endpoints=" + eps[0], "--user=root:s3cret", "get", "k"},
			[]string{"etcdctl", "--endpoints=" + eps[0], "--user=***", "get", "k"}},
		{"user given", EtcdctlTarget{Password: "s3cret"}, []string{"--user", "alice:pw", "get", "k"},
			[]string{"etcdctl", "--user", "alice:pw", "get", "k"}, []string{"etcdctl", "--user", "***", "get", "k"}},
		{"flag after -- is an argument", EtcdctlTarget{Endpoints: eps[:1]}, []string{"put", "--", "--endpoints", "v"},
			[]string{"etcdctl", "--endpoints=" + eps[0], "put", "--", "--endpoints", "v"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := EtcdctlArgs(tc.target, tc.args)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("EtcdctlArgs = %q, want %q", got, tc.want)
			}
			wantRedacted := tc.redacted
			if wantRedacted == nil {
				wantRedacted = tc.want
			}
			if r := Redact(got); !reflect.DeepEqual(r, wantRedacted) {
				t.Errorf("Redact = %q, want %q", r, wantRedacted)
			}
			if tc.target.Password != "" && strings.Contains(strings.Join(Redact(got), " "), tc.target.Password) {
				t.Errorf("the password survives Redact: %q", Redact(got))
			}
		})
	}
	if r := Redact([]string{"--password=pw", "--password", "pw2"}); !reflect.DeepEqual(r, []string{"--password=***", "--password", "***"}) {
		t.Errorf("Redact(--password) = %q", r)
	}
}

func memberPod(name string, running, ready bool, domain string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "etcd", Env: []corev1.EnvVar{{Name: contract.EnvClusterDomain, Value: domain}}}}}}
	if running {
		p.Status.Phase = corev1.PodRunning
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "etcd", Ready: ready}}
	return p
}

func TestPickPodAndEndpoints(t *testing.T) {
	c := healthyCluster()
	c.Namespace = "ns"
	for _, tc := range []struct {
		name       string
		pods       []corev1.Pod
		wantPod    string
		wantDomain string
	}{
		{"lowest ready ordinal", []corev1.Pod{memberPod("db-10", true, true, "k.local"), memberPod("db-2", true, true, "k.local"), memberPod("db-0", true, false, "k.local")}, "db-2", "k.local"},
		{"not running", []corev1.Pod{memberPod("db-0", false, true, "")}, "", ""},
		{"default domain", []corev1.Pod{memberPod("db-0", true, true, "")}, "db-0", contract.DefaultClusterDomain},
	} {
		pod, domain := PickPod(c, tc.pods)
		if pod != tc.wantPod || domain != tc.wantDomain {
			t.Errorf("%s: PickPod = %q, %q; want %q, %q", tc.name, pod, domain, tc.wantPod, tc.wantDomain)
		}
	}
	want := []string{"https://db-0.db-peer.ns.svc.k.local:2379", "https://db-2.db-peer.ns.svc.k.local:2379", "https://db-10.db-peer.ns.svc.k.local:2379"}
	if got := MemberEndpoints(c, "k.local"); !reflect.DeepEqual(got, want) {
		t.Errorf("MemberEndpoints = %q, want %q", got, want)
	}
}

func TestMemberID(t *testing.T) {
	c := healthyCluster()
	for _, tc := range []struct{ member, want, wantErr string }{
		{"db-2", "2", ""},
		{"db-10", "", "db-10 is a learner"},
		{"db-7", "", "db-7 is not a member of db (members: db-10, db-0, db-2)"},
	} {
		got, err := MemberID(c, tc.member)
		if got != tc.want || (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("MemberID(%s) = %q, %v; want %q, %q", tc.member, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestReportHoldsNoSecretValues(t *testing.T) {
	secrets := []corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "db-root-password"}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("hunter2-value")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "db-client-tls"}, Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.key": []byte("PRIVATE-KEY-BYTES"), "tls.crt": []byte("CERT"), "ca.crt": []byte("CA")}},
	}
	b := Bundle{"secrets.txt": SecretSummary(secrets)}
	b.Add("etcdcluster.yaml", healthyCluster())
	var buf bytes.Buffer
	if err := b.WriteTarGz(&buf, "report", now); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[h.Name] = string(data)
	}
	if len(files) != 2 || !strings.Contains(files["report/etcdcluster.yaml"], "name: db") {
		t.Fatalf("tarball holds %v", files)
	}
	summary := files["report/secrets.txt"]
	for _, want := range []string{"db-client-tls\ttype=kubernetes.io/tls\tkeys=ca.crt,tls.crt,tls.key", "db-root-password\ttype=Opaque\tkeys=password"} {
		if !strings.Contains(summary, want) {
			t.Errorf("secrets.txt lacks %q:\n%s", want, summary)
		}
	}
	for _, value := range []string{"hunter2-value", "PRIVATE-KEY-BYTES"} {
		if strings.Contains(summary, value) {
			t.Errorf("secrets.txt holds the secret value %q:\n%s", value, summary)
		}
	}
}

func TestMainUsage(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		inOutput []string
	}{
		{nil, 0, []string{"Commands:", "move-leader NAME --to MEMBER", "--kubeconfig PATH"}},
		{[]string{"help"}, 0, []string{"move-leader NAME --to MEMBER"}},
		{[]string{"--help"}, 0, []string{"Commands:"}},
		{[]string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`, "Commands:"}},
		{[]string{"--bogus"}, 2, []string{"unknown flag: --bogus", "Commands:"}},
	} {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), tc.args, nil, &out, &errOut)
		for _, want := range tc.inOutput {
			if code != tc.code || !strings.Contains(out.String()+errOut.String(), want) {
				t.Errorf("Main(%q) = %d, output %q; want %d and %q", tc.args, code, out.String()+errOut.String(), tc.code, want)
			}
		}
	}
}

// TestCommandHelp asks each command for its help, without a kubeconfig:
// the usage names the command's own flags (with their defaults), and a
// bad command line prints the error and that command's usage, not the
// list of commands.
func TestCommandHelp(t *testing.T) {
	flags := map[string][]string{
		"status":      nil,
		"backup":      {"--s3-endpoint string", "--s3-credentials-secret", "--s3-web-identity-sa", "--s3-instance-role", "--pvc string", "--schedule", "--name string", "--no-wait", "--timeout duration", "(default 10m0s)"},
		"restore":     {"--backup string", "--yes", "--name string", "--no-wait", "(default 15m0s)"},
		"defrag":      {"--request", "--timeout duration", "(default 10m0s)"},
		"move-leader": {"--to string"},
		"etcdctl":     {"etcdctl NAME -- --help", "replaced by ***"},
		"report":      {"-o, --output string"},
		"pause":       nil,
		"resume":      nil,
	}
	if len(flags) != len(commands) {
		t.Fatalf("the test knows %d commands, the plugin has %d", len(flags), len(commands))
	}
	for _, c := range commands {
		for _, help := range [][]string{{c.name, "-h"}, {c.name, "--help"}, {"help", c.name}, {c.name, "db", "--help"}} {
			if c.name == "etcdctl" && len(help) == 3 {
				continue // after NAME, --help is etcdctl's own
			}
			var out, errOut bytes.Buffer
			code := Main(context.Background(), append([]string{"--kubeconfig", "/nonexistent"}, help...), nil, &out, &errOut)
			wants := append([]string{"kubectl quorum [global flags] " + c.name + " " + c.args, c.summary[1:], "--namespace NS"}, flags[c.name]...)
			for _, want := range wants {
				if code != 0 || errOut.Len() > 0 || !strings.Contains(out.String(), want) {
					t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 0 and %q on stdout", help, code, out.String(), errOut.String(), want)
				}
			}
			if strings.Contains(out.String(), "Commands:") {
				t.Errorf("Main(%q) prints the list of commands:\n%s", help, out.String())
			}
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"backup", "db", "--s3-bukket=b"}, []string{"error: backup: unknown flag: --s3-bukket", "kubectl quorum [global flags] backup NAME", "--s3-bucket string"}},
		{[]string{"restore", "db", "--yes"}, []string{"error: restore wants --backup (Succeeded EtcdBackup to restore from)", "--backup string"}},
		{[]string{"status"}, []string{"error: status wants 1 argument(s)", "kubectl quorum [global flags] status NAME"}},
		{[]string{"move-leader", "db"}, []string{"error: move-leader wants --to (member (pod name) to make leader)", "--to string"}},
		{[]string{"etcdctl", "db"}, []string{"error: etcdctl wants etcdctl arguments", "etcdctl NAME [--] ARGS..."}},
		{[]string{"report", "db", "-x"}, []string{"error: report: unknown shorthand flag: 'x' in -x", "-o, --output string"}},
	} {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append([]string{"--kubeconfig", "/nonexistent"}, tc.args...), nil, &out, &errOut)
		for _, want := range tc.want {
			if code != 2 || !strings.Contains(errOut.String(), want) {
				t.Errorf("Main(%q) = %d, stderr %q; want 2 and %q", tc.args, code, errOut.String(), want)
			}
		}
		if strings.Contains(errOut.String(), "Commands:") {
			t.Errorf("Main(%q) prints the list of commands:\n%s", tc.args, errOut.String())
		}
	}
	// A good command line goes on to read the kubeconfig.
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"--kubeconfig", "/nonexistent", "status", "db"}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "loading kubeconfig") {
		t.Errorf("status db with a missing kubeconfig = %d, %q; want 1 and a kubeconfig error", code, errOut.String())
	}
}

func TestDefragPolicy(t *testing.T) {
	c := healthyCluster()
	if got := DefragPolicy(c); got != "on request only (and on NOSPACE recovery)" {
		t.Errorf("no spec: %q", got)
	}
	pct := int32(40)
	c.Spec.Defragmentation = &etcdv1.DefragmentationSpec{Schedule: "0 4 * * *", FreeablePercent: &pct}
	if got, want := DefragPolicy(c), `schedule "0 4 * * *"; when 40% is freeable; on request; on NOSPACE recovery`; got != want {
		t.Errorf("DefragPolicy = %q, want %q", got, want)
	}
}

func TestPauseResume(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := etcdv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := healthyCluster()
	cl := fake.NewClientBuilder().WithScheme(scheme).WithObjects(c).Build()
	var out bytes.Buffer
	env := &Env{Client: cl, Namespace: c.Namespace, Out: &out}
	paused := func() string {
		got := &etcdv1.EtcdCluster{}
		if err := cl.Get(context.Background(), client.ObjectKeyFromObject(c), got); err != nil {
			t.Fatal(err)
		}
		v, ok := got.Annotations[etcdv1.AnnotationPaused]
		if !ok {
			return "<none>"
		}
		return v
	}
	for _, step := range []struct {
		run  func(context.Context, *Env, []string) error
		want string
		says string
	}{
		{runPause, "true", "paused: the operator changes nothing"},
		{runPause, "true", "already paused"},
		{runResume, "<none>", "resumed"},
		{runResume, "<none>", "already not paused"},
	} {
		out.Reset()
		if err := step.run(context.Background(), env, []string{c.Name}); err != nil {
			t.Fatal(err)
		}
		if got := paused(); got != step.want || !strings.Contains(out.String(), step.says) {
			t.Errorf("annotation %q, output %q; want %q and %q", got, out.String(), step.want, step.says)
		}
	}
	var bad *usageError
	if err := runPause(context.Background(), env, nil); !errors.As(err, &bad) {
		t.Errorf("pause without a name: %v, want a usage error", err)
	}
}

// TestBackupCredentialFlags runs `backup` with each way to S3 credentials
// and reads the EtcdBackup it created.
func TestBackupCredentialFlags(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := etcdv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	base := []string{"--s3-endpoint=s3.amazonaws.com", "--s3-bucket=b", "--name=b1", "--no-wait"}
	for _, tc := range []struct {
		name    string
		args    []string
		want    etcdv1.S3Location
		wantErr string
	}{
		{"static keys", []string{"--s3-credentials-secret=creds"},
			etcdv1.S3Location{CredentialsSecretName: "creds"}, ""},
		{"web identity", []string{"--s3-web-identity-sa=etcd-backup", "--s3-role-arn=arn:aws:iam::1:role/r", "--s3-sts-endpoint=http://sts:9000", "--s3-audience=minio"},
			etcdv1.S3Location{WebIdentity: &etcdv1.S3WebIdentity{ServiceAccountName: "etcd-backup", RoleARN: "arn:aws:iam::1:role/r", STSEndpoint: "http://sts:9000", Audience: "minio"}}, ""},
		{"instance role", []string{"--s3-instance-role"}, etcdv1.S3Location{InstanceRole: &etcdv1.S3InstanceRole{}}, ""},
		{"instance role with a service account", []string{"--s3-instance-role", "--s3-instance-role-sa=pod-identity"},
			etcdv1.S3Location{InstanceRole: &etcdv1.S3InstanceRole{ServiceAccountName: "pod-identity"}}, ""},
		{"two modes", []string{"--s3-credentials-secret=creds", "--s3-instance-role"}, etcdv1.S3Location{},
			"give one of --s3-credentials-secret, --s3-web-identity-sa or --s3-instance-role, not --s3-credentials-secret and --s3-instance-role together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := healthyCluster()
			cl := fake.NewClientBuilder().WithScheme(scheme).WithObjects(c).Build()
			env := &Env{Client: cl, Namespace: c.Namespace, Out: &bytes.Buffer{}}
			err := runBackup(context.Background(), env, append(append([]string{c.Name}, base...), tc.args...))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := &etcdv1.EtcdBackup{}
			if err := cl.Get(context.Background(), client.ObjectKey{Namespace: c.Namespace, Name: "b1"}, b); err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Endpoint, want.Bucket = "s3.amazonaws.com", "b"
			if got := b.Spec.Destination.S3; got == nil || !reflect.DeepEqual(*got, want) {
				t.Errorf("destination = %+v, want %+v", got, want)
			}
		})
	}
}
