package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// ErrNotReady is returned when the member did not become ready within
// Settings.ReadyTimeout.
var ErrNotReady = errors.New("etcd member did not become ready in time")

// Run plans the bootstrap, starts the member and blocks until ctx is
// cancelled or etcd fails.
//
// A member whose data is corrupt (its backend file cannot be opened, or
// etcd's initial corruption check finds it inconsistent with its peers)
// fails with contract.DataCorruptMessage; see corrupt.go.
//
// It returns nil only after a stop requested through ctx completed. Every
// other outcome is an error: bad configuration, a failed plan (e.g. not yet
// added to the cluster), etcd failing to start, etcd.Err() firing, the server
// stopping on its own (e.g. removed from the cluster), or readiness not
// reached within Settings.ReadyTimeout.
//
// Readiness: etcd's ReadyNotify closes once the member has published itself
// through raft, which needs a quorum. A member of a new cluster therefore
// waits for enough of its peers to start, and a joining member for the
// leader to accept it. Run waits up to ReadyTimeout (default 5m, 0 = no
// limit), logging every 30s, then stops etcd and returns ErrNotReady so the
// pod restarts; that is safe because the data dir survives and the next
// start is a plain restart. Meanwhile /livez on the metrics port answers,
// so a liveness probe does not kill a member that is only waiting.
func Run(ctx context.Context, lg *zap.Logger, s Settings) error {
	if err := pinTokenKey(lg, &s); err != nil {
		return err
	}
	b, err := Plan(ctx, lg, s)
	if err != nil {
		return err
	}
	cfg, err := s.EmbedConfig(b)
	if err != nil {
		return err
	}
	if b.Mode == ModeRestart {
		if err := checkBackend(s.DataDir); err != nil {
			return dataCorrupt(lg, s, err.Error())
		}
	}
	onReady := func() error { return nil }
	if b.ForceNewCluster {
		onReady = func() error { return recordForceNewCluster(s) }
	}
	err = serve(ctx, lg.With(zap.String("member", s.Name)), cfg, s.ReadyTimeout, onReady)
	if isCorruptionError(err) {
		return dataCorrupt(lg, s, err.Error())
	}
	return err
}

func serve(ctx context.Context, lg *zap.Logger, cfg *embed.Config, readyTimeout time.Duration, onReady func() error) error {
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	// From here on every path calls e.Close exactly once.
	//
	// Graceful stop: embed.Etcd.Close stops the client servers and then calls
	// EtcdServer.Stop, which (etcd v3.7.3, server/etcdserver/server.go,
	// TryTransferLeadershipOnShutdown) moves leadership to the
	// longest-connected voting member when this member is the leader of a
	// cluster with more than one voter, bounded by the request timeout,
	// before stopping raft. So no explicit MoveLeader is needed here.
	ready, err := waitReady(ctx, lg, e, readyTimeout)
	if err != nil || !ready {
		closeUnready(e)
		if err == nil {
			lg.Info("stopped before becoming ready, on request")
		}
		return err
	}
	lg.Info("etcd member is ready", zap.String("member-id", e.Server.MemberID().String()))
	if err := onReady(); err != nil {
		lg.Warn("after becoming ready", zap.Error(err))
	}

	select {
	case <-ctx.Done():
		lg.Info("stopping etcd on request")
		e.Close()
		lg.Info("etcd stopped cleanly")
		return nil
	case err, ok := <-e.Err():
		e.Close()
		return etcdFailed(err, ok)
	case <-e.Server.StopNotify():
		e.Close()
		return errors.New("etcd server stopped on its own (was this member removed from the cluster?)")
	}
}

// waitReady waits for ReadyNotify. It returns (true, nil) when ready,
// (false, nil) when ctx was cancelled first, and an error when etcd failed,
// stopped or readiness timed out.
func waitReady(ctx context.Context, lg *zap.Logger, e *embed.Etcd, timeout time.Duration) (bool, error) {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(readyWaitLogInterval)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case <-e.Server.ReadyNotify():
			return true, nil
		case <-ctx.Done():
			return false, nil
		case err, ok := <-e.Err():
			return false, etcdFailed(err, ok)
		case <-e.Server.StopNotify():
			return false, errors.New("etcd server stopped before becoming ready")
		case <-deadline:
			return false, fmt.Errorf("waited %s: %w", timeout, ErrNotReady)
		case <-tick.C:
			lg.Info("waiting for the member to become ready (a quorum of members must be up)",
				zap.Duration("waited", time.Since(start).Round(time.Second)),
				zap.Duration("timeout", timeout))
		}
	}
}

// closeUnready closes an etcd that never became ready. embed.Etcd.Close on
// its own hangs in that state (etcd-io/etcd#9533, still open for v3.7.3):
// Close first drains each client serveCtx's serversC, which is only closed
// once the serve goroutine returns, and that goroutine waits for ReadyNotify
// or StoppingNotify. Stopping the server first closes StoppingNotify, so
// Close can finish. Stop (not HardStop) still hands leadership over if this
// member happens to lead.
func closeUnready(e *embed.Etcd) {
	e.Server.Stop()
	e.Close()
}

func etcdFailed(err error, ok bool) error {
	switch {
	case !ok:
		return errors.New("etcd failed: its error channel closed unexpectedly")
	case err == nil:
		return errors.New("etcd failed: a listener stopped without an error")
	default:
		return fmt.Errorf("etcd failed: %w", err)
	}
}
