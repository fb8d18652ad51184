package render

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/contract"
)

// TestTLSMigrationRendering: each phase of a TLS migration renders what
// its members serve (QUORUM_TLS_MIGRATION, the migration peer port in the
// pod and the NetworkPolicy), and what the operator and backups connect
// with (the scheme, the client certificate or the password).
func TestTLSMigrationRendering(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		phase      etcdv1.TLSMigrationPhase
		tlsOn      bool
		wantStep   string
		wantScheme string
	}{
		{phase: "", tlsOn: false, wantStep: "", wantScheme: "http"},
		{phase: "", tlsOn: true, wantStep: "", wantScheme: "https"},
		{phase: etcdv1.TLSMigrationListenHTTPS, tlsOn: true, wantStep: contract.TLSMigrationListen, wantScheme: "http"},
		{phase: etcdv1.TLSMigrationMovePeersToTLSPort, tlsOn: true, wantStep: contract.TLSMigrationListen, wantScheme: "http"},
		{phase: etcdv1.TLSMigrationAdvertiseHTTPS, tlsOn: true, wantStep: contract.TLSMigrationAdvertise, wantScheme: "https"},
		{phase: etcdv1.TLSMigrationMovePeersBack, tlsOn: true, wantStep: contract.TLSMigrationAdvertise, wantScheme: "https"},
		{phase: etcdv1.TLSMigrationDropHTTP, tlsOn: true, wantStep: "", wantScheme: "https"},
		// A recorded phase means nothing once TLS is off in the spec.
		{phase: etcdv1.TLSMigrationListenHTTPS, tlsOn: false, wantStep: "", wantScheme: "http"},
	} {
		name := string(tc.phase) + map[bool]string{true: "/tls", false: "/plain"}[tc.tlsOn]
		c := cluster(func(c *etcdv1.EtcdCluster) {
			c.Spec.TLS.Enabled = ptr.To(tc.tlsOn)
			if tc.phase != "" {
				c.Status.TLSMigration = &etcdv1.TLSMigrationStatus{Phase: tc.phase}
			}
		})
		sts := StatefulSet(c, opts, 3, desired(c), nil)
		env := envOf(sts)
		if got := env[contract.EnvTLSMigration].Value; got != tc.wantStep {
			t.Errorf("%s: %s = %q, want %q", name, contract.EnvTLSMigration, got, tc.wantStep)
		}
		if got := PodTLSMigrationStep(&sts.Spec.Template.Spec); got != tc.wantStep {
			t.Errorf("%s: PodTLSMigrationStep = %q, want %q", name, got, tc.wantStep)
		}
		if got := PodServesTLS(&sts.Spec.Template.Spec); got != tc.tlsOn {
			t.Errorf("%s: PodServesTLS = %t, want %t", name, got, tc.tlsOn)
		}
		hasPort := false
		for _, p := range sts.Spec.Template.Spec.Containers[0].Ports {
			hasPort = hasPort || p.ContainerPort == contract.PeerMigrationPort
		}
		if hasPort != (tc.wantStep != "") {
			t.Errorf("%s: migration peer port declared = %t, want %t", name, hasPort, tc.wantStep != "")
		}
		np := NetworkPolicy(c, "")
		npPort := false
		for _, r := range np.Spec.Ingress {
			npPort = npPort || r.Ports[0].Port.IntValue() == contract.PeerMigrationPort && len(r.From) == 1
		}
		if npPort != (tc.wantStep != "") {
			t.Errorf("%s: NetworkPolicy admits the migration peer port from members = %t, want %t", name, npPort, tc.wantStep != "")
		}
		if got := c.Scheme(); got != tc.wantScheme {
			t.Errorf("%s: scheme = %s, want %s", name, got, tc.wantScheme)
		}
		job := BackupJob(&etcdv1.EtcdBackup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: etcdv1.EtcdBackupSpec{ClusterName: "db"}}, c, opts)
		args := strings.Join(job.Spec.Template.Spec.Containers[0].Args, " ")
		if !strings.Contains(args, "--endpoints="+tc.wantScheme+"://db-0.") {
			t.Errorf("%s: backup endpoints not %s: %s", name, tc.wantScheme, args)
		}
		if strings.Contains(args, "--tls-dir=") != (tc.wantScheme == "https") || strings.Contains(args, "--user=root") == (tc.wantScheme == "https") {
			t.Errorf("%s: backup credentials (certificate with https, password with http): %s", name, args)
		}
	}
}
