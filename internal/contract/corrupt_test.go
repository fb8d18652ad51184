package contract

import "testing"

func TestCorruptMemberID(t *testing.T) {
	for _, tc := range []struct {
		msg    string
		id     uint64
		marked bool
	}{
		{"serve failed: " + DataCorruptMessage(0x8e9e05c52164694d, "8e9e05c52164694d found data inconsistency with peers"), 0x8e9e05c52164694d, true},
		{DataCorruptMessage(1, "x"), 1, true},
		{"serve failed: member data corrupt: no id", 0, false},
		{"member data corrupt [id=0]: zero is no member", 0, false},
		{"member data corrupt [id=xyz]: not hex", 0, false},
		{"serve failed: " + DataLostMarker, 0, false},
		{"", 0, false},
	} {
		id, ok := CorruptMemberID(tc.msg)
		if id != tc.id || ok != tc.marked {
			t.Errorf("CorruptMemberID(%q) = %x, %t; want %x, %t", tc.msg, id, ok, tc.id, tc.marked)
		}
	}
}
