// Package configkeys lists the etcd config-file keys that quorum-etcd sets
// itself and therefore refuses in QUORUM_CONFIG_FILE. It has no dependencies
// so that the operator can validate user-supplied options against the same
// list without importing etcd.
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
