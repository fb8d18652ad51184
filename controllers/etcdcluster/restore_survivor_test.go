package etcdcluster

import "testing"

func TestChooseSurvivor(t *testing.T) {
	tests := []struct {
		name  string
		cands []survivorCandidate
		want  string
		ok    bool
	}{
		{"nobody answers", nil, "", false},
		{"one", []survivorCandidate{{Name: "a-2", RaftIndex: 5}}, "a-2", true},
		{"highest index", []survivorCandidate{{Name: "a-0", RaftIndex: 5}, {Name: "a-1", RaftIndex: 9}}, "a-1", true},
		{"highest ordinal may win", []survivorCandidate{{Name: "a-0", RaftIndex: 80}, {Name: "a-2", RaftIndex: 90}}, "a-2", true},
		{"a tie goes to the first", []survivorCandidate{{Name: "a-0", RaftIndex: 9}, {Name: "a-1", RaftIndex: 9}}, "a-0", true},
	}
	for _, tt := range tests {
		got, ok := chooseSurvivor(tt.cands)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: chooseSurvivor = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
