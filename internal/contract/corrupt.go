package contract

import (
	"fmt"
	"regexp"
	"strconv"
)

// DataCorruptMarker starts the termination message of a member that
// refuses to start because its data is corrupt: etcd's initial corruption
// check found its key-value hash different from its peers' at the same
// revision ("found data inconsistency with peers"), or its backend file
// (member/snap/db) cannot be opened. The member's ID follows in brackets,
// so that the operator acts only while that member is still listed (a
// replaced member keeps the old message as its last termination state):
//
//	member data corrupt [id=8e9e05c52164694d]: <why>
const DataCorruptMarker = "member data corrupt"

// CorruptSetAsideSuffix is appended to a member's data dir, with the UTC
// time, when quorum-etcd moves corrupt data aside:
// <data dir>.corrupt-20060102T150405Z. Only the newest such copy is kept.
const CorruptSetAsideSuffix = ".corrupt-"

// DataCorruptMessage is the termination message of member id whose data
// is corrupt, for the reason why.
func DataCorruptMessage(id uint64, why string) string {
	return fmt.Sprintf("%s [id=%x]: %s", DataCorruptMarker, id, why)
}

var dataCorruptRE = regexp.MustCompile(regexp.QuoteMeta(DataCorruptMarker) + ` \[id=([0-9a-f]{1,16})\]`)

// CorruptMemberID returns the member ID a termination message reports as
// corrupt (see DataCorruptMarker), and false when it reports none.
func CorruptMemberID(msg string) (uint64, bool) {
	m := dataCorruptRE.FindStringSubmatch(msg)
	if m == nil {
		return 0, false
	}
	id, err := strconv.ParseUint(m[1], 16, 64)
	if err != nil || id == 0 {
		return 0, false
	}
	return id, true
}
