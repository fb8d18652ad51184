package cronslot

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	berlin := "Europe/Berlin"
	bad, local := "Mars/Olympus", "Local"
	for _, tc := range []struct {
		expr string
		tz   *string
		ok   bool
	}{
		{"0 3 * * *", nil, true},
		{"@daily", &berlin, true},
		{"@every 1h", nil, false},
		{"TZ=UTC 0 3 * * *", nil, false},
		{"0 3 * *", nil, false},
		{"0 3 * * *", &bad, false},
		{"0 3 * * *", &local, false},
	} {
		_, _, err := Parse(tc.expr, tc.tz, "spec.timeZone")
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q, %v) error %v, want ok=%v", tc.expr, tc.tz, err, tc.ok)
		}
	}
}

func TestMostRecent(t *testing.T) {
	berlin := "Europe/Berlin"
	s, loc, err := Parse("0 3 * * *", &berlin, "spec.timeZone")
	if err != nil {
		t.Fatal(err)
	}
	// 03:00 in Berlin on 30 Nov 2026 is 02:00 UTC.
	now := time.Date(2026, 11, 30, 2, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		after time.Time
		want  time.Time
	}{
		{"today's slot", time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)},
		{"handled already", time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC), time.Time{}},
		{"many missed: only the latest", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)},
	} {
		if got := MostRecent(s, loc, tc.after, now); !got.Equal(tc.want) {
			t.Errorf("%s: MostRecent = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got, want := Next(s, loc, now), time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next = %v, want %v", got, want)
	}
}
