// Package configkeys lists the etcd config-file keys that quorum-etcd sets
// itself and therefore refuses in QUORUM_CONFIG_FILE, and the wider set the
// operator refuses in an EtcdCluster's spec.etcdOptions. It has no
// dependencies so that the operator can validate user-supplied options
// against the same lists without importing etcd; hack/gen-admission turns
// them into the CRD's etcdOptions rules.
package configkeys

import "sort"

// Reasons a key is controlled.
const (
	ReasonIdentity  = "derived from the pod (name, data directory)"
	ReasonURLs      = "listen and advertise URLs are derived from the pod and the peer Service"
	ReasonBootstrap = "bootstrap is decided by quorum-etcd from the data dir and the operator's environment"
	ReasonTLS       = "certificates and client-certificate auth come from QUORUM_SERVER_TLS_DIR and QUORUM_PEER_TLS_DIR"
	ReasonLogging   = "logs are always JSON on stderr; only log-level may be set"
	ReasonUnsafe    = "unsafe for a member managed by the operator (use the restore subcommand)"
	ReasonAuthToken = "set with spec.auth.token (type jwt or simple, and ttl); quorum-etcd reads it from QUORUM_AUTH_TOKEN"
)

// controlled maps each controlled etcd config-file key to the reason it is
// controlled. TLS tuning (cipher-suites, tls-min-version, tls-max-version)
// is not controlled: it does not conflict with the certificates.
var controlled = map[string]string{
	"name":     ReasonIdentity,
	"data-dir": ReasonIdentity,
	"wal-dir":  ReasonIdentity,

	"listen-peer-urls":            ReasonURLs,
	"listen-client-urls":          ReasonURLs,
	"listen-client-http-urls":     ReasonURLs,
	"listen-metrics-urls":         ReasonURLs,
	"initial-advertise-peer-urls": ReasonURLs,
	"advertise-client-urls":       ReasonURLs,

	"initial-cluster":       ReasonBootstrap,
	"initial-cluster-state": ReasonBootstrap,
	"initial-cluster-token": ReasonBootstrap,
	"discovery-srv":         ReasonBootstrap,
	"discovery-srv-name":    ReasonBootstrap,
	"discovery-config":      ReasonBootstrap,

	"client-transport-security": ReasonTLS,
	"peer-transport-security":   ReasonTLS,
	"self-signed-cert-validity": ReasonTLS,

	"logger":                   ReasonLogging,
	"log-outputs":              ReasonLogging,
	"log-format":               ReasonLogging,
	"enable-log-rotation":      ReasonLogging,
	"log-rotation-config-json": ReasonLogging,

	"force-new-cluster": ReasonUnsafe,

	"auth-token":     ReasonAuthToken,
	"auth-token-ttl": ReasonAuthToken,
}

// Controlled reports whether key is set by quorum-etcd, and why.
func Controlled(key string) (reason string, ok bool) {
	reason, ok = controlled[key]
	return reason, ok
}

// All returns every controlled key, sorted.
func All() []string {
	keys := make([]string, 0, len(controlled))
	for k := range controlled {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fromSpec maps the etcd keys that the operator renders from EtcdCluster spec
// fields (quorum-etcd accepts them in its options file) to those fields.
var fromSpec = map[string]string{
	"quota-backend-bytes":       "spec.quota.backendBytes",
	"auto-compaction-mode":      "spec.compaction.mode",
	"auto-compaction-retention": "spec.compaction.retention",
}

// settingFlags are etcd command-line flags whose settings the config file
// keeps under a controlled key (client-transport-security,
// peer-transport-security, discovery-config). They are not config-file keys,
// but a user who writes one is told that the setting is controlled rather
// than that the key is unknown.
var settingFlags = map[string]string{
	"auto-tls":              ReasonTLS,
	"cert-file":             ReasonTLS,
	"client-cert-auth":      ReasonTLS,
	"key-file":              ReasonTLS,
	"trusted-ca-file":       ReasonTLS,
	"peer-auto-tls":         ReasonTLS,
	"peer-cert-file":        ReasonTLS,
	"peer-client-cert-auth": ReasonTLS,
	"peer-key-file":         ReasonTLS,
	"peer-trusted-ca-file":  ReasonTLS,
	"discovery":             ReasonBootstrap,
}

// RefusedInSpec returns every key the operator refuses in
// spec.etcdOptions, with the reason: the keys quorum-etcd controls, the keys
// rendered from other spec fields, and the flag names of controlled
// settings.
func RefusedInSpec() map[string]string {
	out := make(map[string]string, len(controlled)+len(fromSpec)+len(settingFlags))
	for k, r := range controlled {
		out[k] = r
	}
	for k, r := range settingFlags {
		out[k] = r
	}
	for k, field := range fromSpec {
		out[k] = "set with " + field
	}
	return out
}
