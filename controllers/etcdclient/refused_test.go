package etcdclient

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRefusedForNow(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("connection refused"), false},
		{rpctypes.ErrPermissionDenied, false},
		{fmt.Errorf("adding learner x: %w", rpctypes.ErrUnhealthy), true},
		{fmt.Errorf("adding learner x: %w", rpctypes.ErrTooManyLearners), true},
		{fmt.Errorf("promoting: %w", rpctypes.ErrMemberLearnerNotReady), true},
	} {
		if got := RefusedForNow(tc.err); got != tc.want {
			t.Errorf("RefusedForNow(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestFromStoppingMember(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("connection refused"), false},
		{fmt.Errorf("adding learner x: %w", rpctypes.ErrUnhealthy), false},
		{fmt.Errorf("removing member 4: %w", rpctypes.ErrStopped), true},
		{fmt.Errorf("removing member 4: %w", rpctypes.Error(rpctypes.ErrGRPCStopped)), true},
		{fmt.Errorf("reading auth status: %w", status.Error(codes.Unknown, "raft: stopped")), true},
		{fmt.Errorf("reading auth status: %w", status.Error(codes.Unknown, "raft: something else")), false},
	} {
		if got := FromStoppingMember(tc.err); got != tc.want {
			t.Errorf("FromStoppingMember(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestUnanswered(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("connection refused"), false},
		{rpctypes.ErrPermissionDenied, false},
		{fmt.Errorf("adding learner x: %w", rpctypes.ErrUnhealthy), false},
		{fmt.Errorf("promoting: %w", rpctypes.ErrTimeout), true},
		{fmt.Errorf("removing: %w", rpctypes.ErrTimeoutDueToLeaderFail), true},
		{fmt.Errorf("removing: %w", rpctypes.ErrLeaderChanged), true},
		{fmt.Errorf("moving leadership: %w", rpctypes.ErrNoLeader), true},
		{fmt.Errorf("adding learner: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("adding learner: %w", status.Error(codes.Unavailable, "connection reset")), true},
		{fmt.Errorf("adding learner: %w", status.Error(codes.InvalidArgument, "bad peer URL")), false},
	} {
		if got := Unanswered(tc.err); got != tc.want {
			t.Errorf("Unanswered(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
