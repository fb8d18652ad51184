package membership

import (
	"slices"
	"strings"
	"testing"
)

func TestJudgeHashes(t *testing.T) {
	h := func(member uint64, hash uint32) Hash {
		return Hash{MemberID: member, Hash: hash, Revision: 100, CompactRevision: 40}
	}
	three := []uint64{1, 2, 3}
	for _, tc := range []struct {
		name     string
		voters   []uint64
		hashes   []Hash
		compared bool
		agree    bool
		corrupt  []uint64
		reason   string
	}{
		{"all agree", three, []Hash{h(1, 7), h(2, 7), h(3, 7)}, true, true, nil, "same HashKV"},
		{"one differs", three, []Hash{h(1, 7), h(2, 9), h(3, 7)}, true, false, []uint64{2}, "HashKV of 2 differs"},
		{"the leader's own answer counts once", three, []Hash{h(3, 9), h(1, 7), h(2, 7)}, true, false, []uint64{3}, "2 of 3 voters"},
		{"a learner that differs", three, []Hash{h(1, 7), h(2, 7), h(3, 7), h(4, 8)}, true, false, []uint64{4}, "differs"},
		{"a learner does not make a majority", []uint64{1, 2}, []Hash{h(1, 7), h(2, 8), h(4, 8)}, true, false, nil, "cannot tell"},
		{"no majority of three", three, []Hash{h(1, 7), h(2, 8), h(3, 9)}, true, false, nil, "cannot tell"},
		{"two answers that differ, third voter down", three, []Hash{h(1, 7), h(2, 8)}, true, false, nil, "cannot tell"},
		{"two agree, third voter down: not all agree yet", three, []Hash{h(1, 7), h(2, 7)}, true, false, nil, "waiting for the others"},
		{"too few answers", three, []Hash{h(1, 7)}, false, false, nil, "only 1 of 3"},
		{"different revisions are not compared", three, []Hash{h(1, 7), {MemberID: 2, Hash: 9, Revision: 101, CompactRevision: 40}, h(3, 7)}, false, false, nil, "different revisions"},
		{"different compactions are not compared", three, []Hash{h(1, 7), {MemberID: 2, Hash: 9, Revision: 100, CompactRevision: 50}, h(3, 7)}, false, false, nil, "different revisions"},
		{"nothing answered", three, nil, false, false, nil, "no member"},
		{"one member agrees with itself", []uint64{1}, []Hash{h(1, 7)}, true, true, nil, "same HashKV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := JudgeHashes(tc.voters, tc.hashes)
			if v.Compared != tc.compared || v.Agree != tc.agree || !slices.Equal(v.Corrupt, tc.corrupt) {
				t.Errorf("JudgeHashes = %+v; want compared %t, agree %t, corrupt %v", v, tc.compared, tc.agree, tc.corrupt)
			}
			if !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("reason %q does not contain %q", v.Reason, tc.reason)
			}
		})
	}
}
