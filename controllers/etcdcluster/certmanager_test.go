package etcdcluster

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
)

func certManagerCluster(sans ...string) *etcdv1.EtcdCluster {
	c := &etcdv1.EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod"}}
	c.Spec.TLS.ExtraSANs = sans
	c.Spec.TLS.CertManager = &etcdv1.CertManagerSpec{IssuerRef: etcdv1.CertManagerIssuerRef{Name: "ca"}}
	return c
}

// The Certificates ask cert-manager for what the operator's own leaves
// carry (leafRequests): same Secret names, common names, names, addresses
// and usages.
func TestCertManagerCertificates(t *testing.T) {
	t.Parallel()
	c := certManagerCluster("etcd.example.com", "198.18.0.7")
	certs := certManagerCertificates(c, "cluster.local")
	if len(certs) != 3 {
		t.Fatalf("got %d Certificates, want 3", len(certs))
	}
	byName := map[string]*unstructured.Unstructured{}
	for _, u := range certs {
		if u.GetAPIVersion() != "cert-manager.io/v1" || u.GetKind() != "Certificate" || u.GetNamespace() != "prod" {
			t.Errorf("%s: %s %s in %q", u.GetName(), u.GetAPIVersion(), u.GetKind(), u.GetNamespace())
		}
		if u.GetLabels()[etcdv1.LabelInstance] != "db" {
			t.Errorf("%s: labels %v", u.GetName(), u.GetLabels())
		}
		byName[u.GetName()] = u
	}
	for _, tc := range []struct {
		name, cn         string
		dns, ips, usages []string
	}{
		{name: "db-server-tls", cn: "db-server",
			dns: []string{"db-client", "db-client.prod", "db-client.prod.svc", "db-client.prod.svc.cluster.local", "localhost",
				"*.db-peer.prod.svc.cluster.local", "*.db-peer.prod.svc", "etcd.example.com"},
			ips:    []string{"127.0.0.1", "::1", "198.18.0.7"},
			usages: []string{"digital signature", "key encipherment", "server auth", "client auth"}},
		{name: "db-peer-tls", cn: "db-peer",
			dns:    []string{"*.db-peer.prod.svc.cluster.local", "*.db-peer.prod.svc"},
			usages: []string{"digital signature", "key encipherment", "server auth", "client auth"}},
		{name: "db-client-tls", cn: "root", usages: []string{"digital signature", "key encipherment", "client auth"}},
	} {
		u := byName[tc.name]
		if u == nil {
			t.Errorf("no Certificate %s", tc.name)
			continue
		}
		str := func(path ...string) string { s, _, _ := unstructured.NestedString(u.Object, path...); return s }
		list := func(path ...string) []string { s, _, _ := unstructured.NestedStringSlice(u.Object, path...); return s }
		if got := str("spec", "secretName"); got != tc.name {
			t.Errorf("%s: secretName %q", tc.name, got)
		}
		if got := str("spec", "commonName"); got != tc.cn {
			t.Errorf("%s: commonName %q, want %q", tc.name, got, tc.cn)
		}
		if got := list("spec", "dnsNames"); strings.Join(got, ",") != strings.Join(tc.dns, ",") {
			t.Errorf("%s: dnsNames %v, want %v", tc.name, got, tc.dns)
		}
		if got := list("spec", "ipAddresses"); strings.Join(got, ",") != strings.Join(tc.ips, ",") {
			t.Errorf("%s: ipAddresses %v, want %v", tc.name, got, tc.ips)
		}
		if got := list("spec", "usages"); strings.Join(got, ",") != strings.Join(tc.usages, ",") {
			t.Errorf("%s: usages %v, want %v", tc.name, got, tc.usages)
		}
		if ref, _, _ := unstructured.NestedStringMap(u.Object, "spec", "issuerRef"); ref["name"] != "ca" || ref["kind"] != "Issuer" || ref["group"] != "cert-manager.io" {
			t.Errorf("%s: issuerRef %v (want the defaults filled in)", tc.name, ref)
		}
		if got := str("spec", "renewBefore"); got != "960h" {
			t.Errorf("%s: renewBefore %q, want 960h (before the expiry warning's 30 days)", tc.name, got)
		}
		if got := str("spec", "privateKey", "rotationPolicy"); got != "Always" {
			t.Errorf("%s: rotationPolicy %q", tc.name, got)
		}
		if l, _, _ := unstructured.NestedStringMap(u.Object, "spec", "secretTemplate", "labels"); l[etcdv1.LabelManagedBy] != etcdv1.ManagedByValue {
			t.Errorf("%s: Secret labels %v", tc.name, l)
		}
	}
}

func TestCertificateReady(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cert := func(age time.Duration, gen int64, conds ...map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{}}
		u.SetCreationTimestamp(metav1.NewTime(now.Add(-age)))
		u.SetGeneration(gen)
		if len(conds) > 0 {
			l := make([]any, len(conds))
			for i, c := range conds {
				l[i] = c
			}
			u.Object["status"] = map[string]any{"conditions": l}
		}
		return u
	}
	cond := func(typ, status, reason, msg string, gen int64) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "message": msg, "observedGeneration": gen}
	}
	for _, tc := range []struct {
		name    string
		cert    *unstructured.Unstructured
		ok      bool
		msgHas  string // "" means no message: still issuing
		pending bool
	}{
		{name: "just created, no status", cert: cert(time.Second, 1), pending: true},
		{name: "no status long after creation: cert-manager silent", cert: cert(3*time.Minute, 1), msgHas: "is cert-manager's controller running?"},
		{name: "ready for this generation", cert: cert(time.Hour, 2, cond("Ready", "True", "Ready", "up to date", 2)), ok: true},
		{name: "ready for an older generation, issuing", cert: cert(time.Hour, 3, cond("Ready", "True", "Ready", "", 2), cond("Issuing", "True", "", "", 3)), pending: true},
		{name: "not ready, issuing", cert: cert(time.Minute, 1, cond("Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist", 1), cond("Issuing", "True", "DoesNotExist", "", 1)), pending: true},
		{name: "issuance failed: cert-manager's message", cert: cert(time.Minute, 1,
			cond("Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist", 1),
			cond("Issuing", "False", "Failed", "The certificate request has failed to complete and will be retried: issuer not ready", 1)),
			msgHas: "will be retried: issuer not ready"},
		{name: "not ready without Issuing", cert: cert(time.Minute, 1, cond("Ready", "False", "Expired", "Certificate expired", 1)), msgHas: "Expired: Certificate expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, msg := certificateReady(tc.cert, now)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v (msg %q)", ok, tc.ok, msg)
			}
			if tc.pending && msg != "" {
				t.Errorf("message %q, want none (issuing)", msg)
			}
			if tc.msgHas != "" && !strings.Contains(msg, tc.msgHas) {
				t.Errorf("message %q lacks %q", msg, tc.msgHas)
			}
		})
	}
}

func TestIncompleteTLSSecret(t *testing.T) {
	t.Parallel()
	ca, err := pki.NewCA("test CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	full := map[string][]byte{corev1.TLSCertKey: ca.CertPEM, corev1.TLSPrivateKeyKey: ca.KeyPEM, keyCACert: ca.CertPEM}
	for _, tc := range []struct {
		name string
		drop string
		bad  bool
		want string
	}{
		{name: "complete", want: ""},
		{name: "no ca.crt (an issuer that writes none)", drop: keyCACert, want: "has no ca.crt"},
		{name: "no key", drop: corev1.TLSPrivateKeyKey, want: "has no tls.key"},
		{name: "garbage certificate", bad: true, want: "holds no certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := map[string][]byte{}
			for k, v := range full {
				if k != tc.drop {
					data[k] = v
				}
			}
			if tc.bad {
				data[corev1.TLSCertKey] = []byte("not PEM")
			}
			got := incompleteTLSSecret(&corev1.Secret{Data: data})
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
