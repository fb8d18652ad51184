package bench

// The benches on the real cluster, registered here in the order they run:
// after the host benches (this file's init runs after operator.go's).
func init() {
	for _, b := range []Bench{
		applyReadyBench,
		scaleLoadBench,
		leaderKillBench,
		statusLagBench,
		rolloutBench,
		clusterPutBench,
		dataRatioBench,
		backupRestoreBench,
		defragBench,
	} {
		Register(b)
	}
}
