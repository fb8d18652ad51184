package v1alpha1

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"quorum.dev/etcd-operator/etcdserver/server"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// FuzzNames derives every name and URL of a cluster from random names. The
// derivations never panic; for the names Kubernetes accepts, the member URLs
// are the ones quorum-etcd advertises, and parse back to their parts.
func FuzzNames(f *testing.F) {
	f.Add("db", "prod", "cluster.local", 0, true, "")
	f.Add("a", "b", "example.local", 8, false, "custom-server")
	f.Add("", "", "", -1, true, "")
	f.Add(strings.Repeat("x", 63), "ns", "c.d", 1<<30, false, "")
	f.Add("db/../x", "prod@evil", "[::1]", 3, true, "s:1")

	f.Fuzz(func(t *testing.T, name, ns, domain string, ordinal int, tls bool, serverSecret string) {
		c := &EtcdCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: EtcdClusterSpec{TLS: TLSSpec{Enabled: ptr.To(tls), ServerSecretName: serverSecret}}}
		for _, n := range []string{c.StatefulSetName(), c.PeerServiceName(), c.ClientServiceName(), c.ConfigMapName(),
			c.NetworkPolicyName(), c.PDBName(), c.CASecretName(), c.ServerSecretName(), c.PeerSecretName(),
			c.ClientSecretName(), c.RootPasswordSecretName(), c.MemberName(ordinal)} {
			if !strings.HasPrefix(n, name) && n != serverSecret {
				t.Fatalf("derived name %q does not start with %q", n, name)
			}
		}
		if c.UserCertificates() != (serverSecret != "") || (serverSecret != "" && c.ServerSecretName() != serverSecret) {
			t.Fatalf("server secret %q, user certificates %v", c.ServerSecretName(), c.UserCertificates())
		}
		peer, client, endpoint := c.MemberPeerURL(ordinal, domain), c.MemberClientURL(ordinal, domain), c.ClientEndpoint(domain)
		if sel := c.SelectorLabels(); sel[LabelInstance] != name || c.Labels()[LabelManagedBy] != ManagedByValue {
			t.Fatalf("labels %v", c.Labels())
		}

		// Names a cluster can run under: DNS labels (the cluster's with room
		// for "-peer" and an ordinal) and a DNS name as domain.
		valid := len(name) <= 50 && dnsLabel.MatchString(name) && len(ns) <= 63 && dnsLabel.MatchString(ns) &&
			ordinal >= 0 && ordinal < 9 && domain != "" && len(domain) <= 253
		for _, l := range strings.Split(domain, ".") {
			valid = valid && len(l) <= 63 && dnsLabel.MatchString(l)
		}
		if !valid {
			return
		}
		host := server.MemberHost(c.MemberName(ordinal), c.PeerServiceName(), ns, domain)
		if c.MemberHost(ordinal, domain) != host {
			t.Fatalf("operator member host %q, quorum-etcd advertises %q", c.MemberHost(ordinal, domain), host)
		}
		for _, u := range []struct {
			raw  string
			host string
			port int
		}{
			{peer, host, PeerPort}, {client, host, ClientPort},
			{endpoint, c.ClientServiceName() + "." + ns + ".svc." + domain, ClientPort},
		} {
			p, err := url.Parse(u.raw)
			if err != nil {
				t.Fatalf("%q: %v", u.raw, err)
			}
			if p.Scheme != c.Scheme() || p.Hostname() != u.host || p.Port() != strconv.Itoa(u.port) || p.Path != "" {
				t.Fatalf("%q is not %s://%s:%d", u.raw, c.Scheme(), u.host, u.port)
			}
		}
		if (c.Scheme() == "https") != tls {
			t.Fatalf("scheme %s with TLS %v", c.Scheme(), tls)
		}
		peers, err := server.ParseInitialCluster(c.MemberName(ordinal) + "=" + peer)
		if err != nil || len(peers) != 1 || peers[0].URL.String() != peer {
			t.Fatalf("quorum-etcd does not parse the operator's initial cluster entry %q: %v", peer, err)
		}
	})
}

// FuzzBackupName: a schedule name the API server accepts (at most 52
// characters) and any slot before the year 2286 give a backup name that fits
// in a label value, as the schedule's documentation promises.
func FuzzBackupName(f *testing.F) {
	f.Add("nightly", int64(1767322800))
	f.Add(strings.Repeat("s", 52), int64(9999999999))
	f.Add("x", int64(0))
	f.Fuzz(func(t *testing.T, name string, unix int64) {
		s := &EtcdBackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: name}}
		slot := time.Unix(unix, 0)
		n := s.BackupName(slot)
		if s.BackupName(slot.In(time.FixedZone("x", 3600))) != n {
			t.Fatalf("backup name of %v depends on the time zone", slot)
		}
		if s.BackupLabels()[LabelBackupSchedule] != name {
			t.Fatalf("labels %v", s.BackupLabels())
		}
		if len(name) > 52 || !dnsLabel.MatchString(name) || unix < 0 || unix > 9999999999 {
			return
		}
		if len(n) > 63 || !dnsLabel.MatchString(n) {
			t.Fatalf("backup name %q (%d) is not a label value", n, len(n))
		}
	})
}
