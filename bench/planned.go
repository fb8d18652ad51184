package bench

// Benches that need the real local cluster, not written yet. Registering
// a Bench of the same name in another file replaces the placeholder.
func init() {
	for _, b := range []struct{ name, doc string }{
		{"apply-ready", "time from apply to Ready"},
		{"scale-load", "scale 3→5→3 under put load"},
		{"leader-kill", "write gap when the leader pod is killed"},
		{"rollout", "write gap during a rolling update"},
		{"cluster-put", "put throughput of a managed cluster"},
		{"backup-restore", "backup and restore throughput"},
	} {
		Register(Bench{Name: b.name, Doc: b.doc, NeedsCluster: true})
	}
}
