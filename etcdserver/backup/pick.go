package backup

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// MaxAppliedLag is how many raft entries a member may be behind the most
// up-to-date member and still be picked for a backup. Followers trail the
// leader by a few entries under write load; a member further behind is
// lagging or cut off.
const MaxAppliedLag = 1000

// endpointStatus is the answer of one endpoint to Status.
type endpointStatus struct {
	Endpoint string
	Status   *clientv3.StatusResponse
	Err      error
}

// problem says why an endpoint cannot serve a backup, or "" if it can.
func (e endpointStatus) problem() string {
	switch {
	case e.Err != nil:
		return e.Err.Error()
	case e.Status == nil || e.Status.Header == nil:
		return "empty status"
	case len(blockingErrors(e.Status.Errors)) > 0:
		return "member reports errors: " + strings.Join(blockingErrors(e.Status.Errors), ", ")
	case e.Status.Leader == 0:
		return "member has no leader"
	}
	return ""
}

// noSpaceAlarm matches a NOSPACE alarm in StatusResponse.Errors: etcd
// appends every alarm of the cluster there as AlarmMember.String(),
// "memberID:<decimal> alarm:NOSPACE" (server/etcdserver/api/v3rpc/
// maintenance.go, Status; protobuf text format may double the spaces).
var noSpaceAlarm = regexp.MustCompile(`^\s*memberID:\s*\d+\s+alarm:\s*NOSPACE\s*$`)

// blockingErrors are the status errors that rule a member out. A NOSPACE
// alarm does not: the cluster then takes reads, and a snapshot only reads
// (etcd op-guide/maintenance), so a backup still runs. A CORRUPT alarm
// does: the members' data differ.
func blockingErrors(errs []string) []string {
	var out []string
	for _, e := range errs {
		if !noSpaceAlarm.MatchString(e) {
			out = append(out, e)
		}
	}
	return out
}

// allAuthErrors tells whether every endpoint failed on authentication.
func allAuthErrors(sts []endpointStatus) bool {
	for _, s := range sts {
		if !isAuthError(s.Err) {
			return false
		}
	}
	return true
}

func isAuthError(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range []error{rpctypes.ErrUserEmpty, rpctypes.ErrAuthFailed, rpctypes.ErrPermissionDenied,
		rpctypes.ErrInvalidAuthToken, rpctypes.ErrAuthOldRevision, rpctypes.ErrUserNotFound} {
		if errors.Is(err, e) || strings.Contains(err.Error(), e.Error()) {
			return true
		}
	}
	return false
}

// pickMember chooses the endpoint to take the snapshot from:
//
//  1. only members that answered Status, report no error and know a leader;
//  2. all of them must report the same cluster ID (else the endpoints mix
//     clusters, which is refused);
//  3. only members at most MaxAppliedLag entries behind the highest applied
//     index among them;
//  4. preferring, in order: a voter over a learner, a follower over the
//     leader (the snapshot costs disk and network I/O the leader needs), a
//     higher applied index, and the earlier endpoint in the list.
//
// It returns the index into sts, or an error listing every endpoint's
// problem.
func pickMember(sts []endpointStatus) (int, error) {
	if len(sts) == 0 {
		return -1, errors.New("no etcd endpoints given")
	}
	var healthy []int
	var problems []string
	for i, s := range sts {
		if p := s.problem(); p != "" {
			problems = append(problems, fmt.Sprintf("%s: %s", s.Endpoint, p))
			continue
		}
		healthy = append(healthy, i)
	}
	if len(healthy) == 0 {
		if allAuthErrors(sts) {
			return -1, fmt.Errorf("etcd refused the client's credentials on every endpoint (%s); the snapshot needs the root "+
				"user: give --user and --password-file, or a client certificate of root in --tls-dir", strings.Join(problems, "; "))
		}
		return -1, fmt.Errorf("no healthy etcd member to back up from (%s)", strings.Join(problems, "; "))
	}
	cluster := sts[healthy[0]].Status.Header.ClusterId
	var maxApplied uint64
	for _, i := range healthy {
		st := sts[i].Status
		if st.Header.ClusterId != cluster {
			return -1, fmt.Errorf("endpoints belong to different clusters: %s is in cluster %x, %s in cluster %x",
				sts[healthy[0]].Endpoint, cluster, sts[i].Endpoint, st.Header.ClusterId)
		}
		maxApplied = max(maxApplied, st.RaftAppliedIndex)
	}
	var cands []int
	for _, i := range healthy {
		if sts[i].Status.RaftAppliedIndex+MaxAppliedLag >= maxApplied {
			cands = append(cands, i)
		}
	}
	sort.SliceStable(cands, func(a, b int) bool {
		x, y := sts[cands[a]].Status, sts[cands[b]].Status
		if x.IsLearner != y.IsLearner {
			return !x.IsLearner
		}
		xl, yl := x.Header.MemberId == x.Leader, y.Header.MemberId == y.Leader
		if xl != yl {
			return !xl
		}
		return x.RaftAppliedIndex > y.RaftAppliedIndex
	})
	return cands[0], nil
}
