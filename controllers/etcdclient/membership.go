package etcdclient

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrLearnerNotReady: etcd refused to promote a learner that has not caught
// up with the leader yet. Try again later.
var ErrLearnerNotReady = rpctypes.ErrMemberLearnerNotReady

// RefusedForNow tells whether etcd refused a membership change only for
// the moment: its leader has not been connected to a quorum for long
// enough (for a few seconds after every leader change), a learner is
// already being added, or a learner has not caught up yet. The change is tried
// again on a later pass.
func RefusedForNow(err error) bool {
	for _, e := range []error{rpctypes.ErrUnhealthy, rpctypes.ErrTooManyLearners, rpctypes.ErrMemberLearnerNotReady} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Unanswered tells whether a request got no answer in time, or reached
// etcd while its leadership was in flux: etcd's request timeouts
// (rpctypes.ErrTimeout and its leader-fail and connection-lost kinds), a
// leader that changed or is missing, the client's deadline, or a member
// gRPC could not reach. A membership change that failed so may or may
// not have happened: the next pass reads the member list again and plans
// from what it finds (etcd's client docs: "the request may or may not
// have been applied" on a timeout).
func Unanswered(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range []error{rpctypes.ErrTimeout, rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrTimeoutDueToConnectionLost,
		rpctypes.ErrLeaderChanged, rpctypes.ErrNoLeader, context.DeadlineExceeded} {
		if errors.Is(err, e) {
			return true
		}
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		switch se.GRPCStatus().Code() {
		case codes.DeadlineExceeded, codes.Unavailable:
			return true
		}
	}
	return false
}

// FromStoppingMember tells whether a request failed because the member
// that received it stopped: etcd stops a member right after removing it
// ("etcdserver: server stopped", etcd's rpctypes.ErrStopped), so the answer
// to a removal sent to the member being removed, or any request a client
// sent to it just before, is lost. A request that reached its raft node as
// it stopped fails with raft's own ErrStopped ("raft: stopped"), which etcd
// does not translate: gRPC code Unknown with that message. During a
// scale-down this is expected; the next pass sees from a fresh member list
// whether the change happened.
func FromStoppingMember(err error) bool {
	if errors.Is(err, rpctypes.ErrStopped) || errors.Is(err, rpctypes.ErrGRPCStopped) {
		return true
	}
	var se interface{ GRPCStatus() *status.Status }
	return errors.As(err, &se) && se.GRPCStatus().Message() == raftStopped
}

// raftStopped is the message of go.etcd.io/raft/v3's ErrStopped (the
// operator does not link raft).
const raftStopped = "raft: stopped"

func (c *client) AddLearner(ctx context.Context, peerURL string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	resp, err := c.c.MemberAddAsLearner(ctx, []string{peerURL})
	if err != nil {
		return 0, fmt.Errorf("adding learner %s: %w", peerURL, err)
	}
	return resp.Member.ID, nil
}

// Promote goes to the leader: a follower forwards promotions to the leader
// over the peer port without the caller's credentials, which fails once
// authentication is on ("auth: user name is empty").
func (c *client) Promote(ctx context.Context, leaderEndpoint string, id uint64) error {
	l, err := c.pinned(leaderEndpoint)
	if err != nil {
		return err
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	if _, err := l.c.MemberPromote(ctx, id); err != nil {
		return fmt.Errorf("promoting learner %x: %w", id, err)
	}
	return nil
}

// pinned is a short-lived client that talks to one endpoint only.
func (c *client) pinned(endpoint string) (*client, error) {
	cfg := c.cfg
	cfg.Endpoints = []string{endpoint}
	l, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return l.(*client), nil
}

func (c *client) Remove(ctx context.Context, id uint64) error {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	if _, err := c.c.MemberRemove(ctx, id); err != nil {
		if errors.Is(err, rpctypes.ErrMemberNotFound) {
			return nil // already gone: removing is done
		}
		return fmt.Errorf("removing member %x: %w", id, err)
	}
	return nil
}

func (c *client) UpdatePeerURLs(ctx context.Context, id uint64, peerURLs []string) error {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	if _, err := c.c.MemberUpdate(ctx, id, peerURLs); err != nil {
		return fmt.Errorf("updating the peer URLs of member %x to %v: %w", id, peerURLs, err)
	}
	return nil
}

// MoveLeader must reach the leader itself, so it uses a short-lived client
// pinned to the leader's endpoint.
func (c *client) MoveLeader(ctx context.Context, leaderEndpoint string, target uint64) error {
	l, err := c.pinned(leaderEndpoint)
	if err != nil {
		return err
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*RequestTimeout)
	defer cancel()
	if _, err := l.c.MoveLeader(ctx, target); err != nil {
		return fmt.Errorf("moving leadership from %s to %x: %w", leaderEndpoint, target, err)
	}
	return nil
}
