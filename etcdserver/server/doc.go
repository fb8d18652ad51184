// Package server derives the configuration of one etcd member from the
// environment the Quorum operator renders into the pod, decides whether the
// member restarts, bootstraps a new cluster or joins an existing one, and
// runs it on top of go.etcd.io/etcd/server/v3/embed.
//
// The split: FromEnv turns the pod environment into Settings (plain data,
// every URL resolved); Plan inspects the data dir and, for a join, the member
// list, and returns a Bootstrap; Settings.EmbedConfig turns both into an
// *embed.Config; Run does all of it and serves until stopped. Tests build
// Settings directly with 127.0.0.1 URLs on free ports.
//
// # Environment (see the Env* constants)
//
//	POD_NAME                      required; member name, DNS label
//	POD_NAMESPACE                 required
//	QUORUM_PEER_SERVICE           required; headless Service name
//	QUORUM_CLUSTER_DOMAIN         default cluster.local
//	QUORUM_INITIAL_CLUSTER        name=peerURL,...; bootstrap list for "new",
//	                              members to ask (host, client port) for "existing"
//	QUORUM_INITIAL_CLUSTER_STATE  required; new | existing
//	QUORUM_CLUSTER_TOKEN          required when the state is new
//	QUORUM_DATA_DIR               default /var/lib/etcd/data
//	QUORUM_CONFIG_FILE            optional YAML of extra etcd config-file keys
//	QUORUM_SERVER_TLS_DIR         optional; tls.crt, tls.key, ca.crt; unset = http
//	QUORUM_PEER_TLS_DIR           optional; same, for peers
//	QUORUM_READY_TIMEOUT          optional Go duration, default 5m, 0 = no limit
//	QUORUM_REPLACE_STALE_DATA     optional bool, default true; see "Stale data"
//	QUORUM_TERMINATION_LOG        default /dev/termination-log
//
// Member host: $POD_NAME.$QUORUM_PEER_SERVICE.$POD_NAMESPACE.svc.$QUORUM_CLUSTER_DOMAIN.
// Advertised: peer <scheme>://host:2380, client <scheme>://host:2379.
// Listening: 0.0.0.0:2380 (peer), 0.0.0.0:2379 (client), http://0.0.0.0:2381
// (metrics and probes). With a TLS dir set, that side is mutual TLS: our
// certificate, client certificates required and verified against ca.crt.
//
// # Endpoints on the metrics port (etcd v3.7.3, embed.serveMetrics)
//
// The metrics listener serves exactly etcdhttp.HandleMetrics and
// etcdhttp.HandleHealth, on plain http:
//
//	/metrics   Prometheus metrics
//	/health    JSON; no alarm, a leader, and a linearizable read (503 otherwise)
//	/livez     serializable_read: a local read; answers while the member waits
//	           for quorum, so it is safe as liveness probe
//	/readyz    data_corruption, serializable_read, linearizable_read, non_learner
//
// Each check also has its own path (/livez/serializable_read,
// /readyz/non_learner, ...); ?exclude=<check> skips a check, ?verbose lists
// them. Two consequences for the operator: a learner is never ready
// (non_learner fails until it is promoted; /readyz?exclude=non_learner
// ignores that), and without quorum /readyz does not answer 503 quickly: the
// linearizable read blocks until the prober's timeout.
//
// # Alarms and probes (TestProbesUnderAlarms)
//
// etcd keeps one alarm list for the whole cluster, so every member reports
// every member's alarm.
//
//   - NOSPACE: /readyz stays 200 (no readyz check looks at NOSPACE, and
//     reads still pass), so the pod stays Ready and keeps serving reads and
//     deletes through the client Service; /health answers 503.
//   - CORRUPT: /readyz answers 503 (check data_corruption) on every member,
//     on purpose: the members' data differ, so no client should be routed
//     to any of them until a human has found the bad member. /livez stays
//     200 (a serializable read does not go through the corrupt applier),
//     so the kubelet does not restart members.
//
// Either way the client port answers status, alarm list and disarm. The
// operator reaches members by their per-pod names on the headless peer
// Service, which publishes not-ready addresses, so a not-ready member is
// still reachable; readiness only gates the client Service.
//
// # Stale data
//
// On a restart (the data dir holds a member) with other members to ask,
// Plan asks them for the member list and cluster ID (linearizable, bounded
// by DefaultStaleCheckTimeout) and reads this member's member and cluster ID
// from the WAL. No answer: restart as usual. Same cluster and the member is
// listed: restart. Otherwise the data is stale (the member was removed, or
// the data belongs to another cluster): the data dir is moved to
// <data dir>.stale (replacing an older one), the termination log gets
//
//	member data stale: member <id> of cluster <id> is not a member of cluster <id>; data moved to <path>, joining as a new member
//
// and the member joins like a new one (it waits for the operator to add it).
// With QUORUM_REPLACE_STALE_DATA=false Run fails instead with ErrStaleData,
// "member data stale: ...; data dir <path> left in place (...)".
//
// # Config file
//
// QUORUM_CONFIG_FILE uses etcd's config-file keys. Keys quorum-etcd sets
// (package configkeys) and keys unknown to this etcd version are rejected, as
// are bad values; the binary then exits non-zero before touching the data dir.
package server
