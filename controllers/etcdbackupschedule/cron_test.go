package etcdbackupschedule

import (
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestParseSchedule(t *testing.T) {
	for _, c := range []struct {
		expr, tz string // tz "" means unset
		err      string // substring; "" means valid
	}{
		{expr: "*/15 * * * *"},
		{expr: "0 3 * * 1-5"},
		{expr: "  0 3 * * MON  "},
		{expr: "@daily"},
		{expr: "@hourly", tz: "Europe/Berlin"},
		{expr: "0 0 * * *", tz: "UTC"},
		{expr: "61 * * * *", err: "above maximum"},
		{expr: "* * * *", err: "exactly 5 fields"},
		{expr: "0 0 * * * *", err: "exactly 5 fields"},
		{expr: "0 0 31 13 *", err: "above maximum"},
		{expr: "@every 1h", err: "@every is not supported"},
		{expr: "@fortnightly", err: "unrecognized descriptor"},
		{expr: "CRON_TZ=Europe/Berlin 0 3 * * *", err: "spec.timeZone"},
		{expr: "TZ=UTC 0 3 * * *", err: "spec.timeZone"},
		{expr: "0 3 * * *", tz: "Mars/Olympus_Mons", err: `time zone "Mars/Olympus_Mons"`},
		{expr: "0 3 * * *", tz: "Local", err: "IANA"},
	} {
		var tz *string
		if c.tz != "" {
			tz = ptr.To(c.tz)
		}
		s, loc, err := parseSchedule(c.expr, tz)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q %q: %v", c.expr, c.tz, err)
		case c.err == "" && (s == nil || loc == nil):
			t.Errorf("%q %q: no schedule or location", c.expr, c.tz)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q %q: error %v, want one containing %q", c.expr, c.tz, err, c.err)
		}
	}
	if _, _, err := parseSchedule("0 3 * * *", ptr.To("")); err == nil {
		t.Error("an empty time zone was accepted")
	}
}

func TestPlanSlots(t *testing.T) {
	dur := func(d time.Duration) *time.Duration { return &d }
	for _, c := range []struct {
		name         string
		expr, tz     string
		handled, now string
		deadline     *time.Duration
		suspend      bool
		due, missed  string // "" means none
		next         string // "" means none
	}{
		{name: "between slots", expr: "0 * * * *", handled: "2026-05-01T10:05:00Z", now: "2026-05-01T10:30:00Z", next: "2026-05-01T11:00:00Z"},
		{name: "on the slot", expr: "0 * * * *", handled: "2026-05-01T10:05:00Z", now: "2026-05-01T11:00:00Z", due: "2026-05-01T11:00:00Z", next: "2026-05-01T12:00:00Z"},
		{name: "just after the slot", expr: "0 * * * *", handled: "2026-05-01T10:05:00Z", now: "2026-05-01T11:00:30Z", due: "2026-05-01T11:00:00Z", next: "2026-05-01T12:00:00Z"},
		{name: "slot already handled", expr: "0 * * * *", handled: "2026-05-01T11:00:00Z", now: "2026-05-01T11:30:00Z", next: "2026-05-01T12:00:00Z"},
		{name: "created on a slot: that slot is not run", expr: "0 * * * *", handled: "2026-05-01T11:00:00Z", now: "2026-05-01T11:00:00Z", next: "2026-05-01T12:00:00Z"},
		{name: "many missed: only the most recent runs", expr: "*/5 * * * *", handled: "2026-04-28T10:05:00Z", now: "2026-05-01T11:31:00Z", due: "2026-05-01T11:30:00Z", next: "2026-05-01T11:35:00Z"},
		{name: "missed by more than the deadline", expr: "0 * * * *", handled: "2026-05-01T10:05:00Z", now: "2026-05-01T11:10:00Z", deadline: dur(5 * time.Minute), missed: "2026-05-01T11:00:00Z", next: "2026-05-01T12:00:00Z"},
		{name: "late but within the deadline", expr: "0 * * * *", handled: "2026-05-01T10:05:00Z", now: "2026-05-01T11:04:59Z", deadline: dur(5 * time.Minute), due: "2026-05-01T11:00:00Z", next: "2026-05-01T12:00:00Z"},
		{name: "deadline zero: only a pass on the second runs", expr: "0 * * * *", handled: "2026-05-01T10:05:00Z", now: "2026-05-01T11:00:01Z", deadline: dur(0), missed: "2026-05-01T11:00:00Z", next: "2026-05-01T12:00:00Z"},
		{name: "operator down for days, with a deadline: one miss, no catch-up", expr: "0 * * * *", handled: "2026-04-20T00:00:00Z", now: "2026-05-01T11:10:00Z", deadline: dur(time.Minute), missed: "2026-05-01T11:00:00Z", next: "2026-05-01T12:00:00Z"},
		{name: "suspended", expr: "0 * * * *", handled: "2026-05-01T10:05:00Z", now: "2026-05-01T13:00:00Z", suspend: true},
		{name: "yearly, found beyond the recent window", expr: "0 0 1 1 *", handled: "2024-06-01T00:00:00Z", now: "2026-03-01T00:00:00Z", due: "2026-01-01T00:00:00Z", next: "2027-01-01T00:00:00Z"},
		{name: "yearly, none since handled", expr: "@yearly", handled: "2026-01-01T00:00:00Z", now: "2026-03-01T00:00:00Z", next: "2027-01-01T00:00:00Z"},
		{name: "clock behind the last handled slot", expr: "0 * * * *", handled: "2026-05-01T12:00:00Z", now: "2026-05-01T11:30:00Z", next: "2026-05-01T12:00:00Z"},
		{name: "time zone, summer", expr: "0 2 * * *", tz: "Europe/Berlin", handled: "2026-06-30T12:00:00Z", now: "2026-07-01T00:30:00Z", due: "2026-07-01T00:00:00Z", next: "2026-07-02T00:00:00Z"},
		{name: "time zone, winter", expr: "0 2 * * *", tz: "Europe/Berlin", handled: "2026-01-14T12:00:00Z", now: "2026-01-15T01:00:00Z", due: "2026-01-15T01:00:00Z", next: "2026-01-16T01:00:00Z"},
		{name: "time zone: the slot in UTC has not come yet", expr: "0 2 * * *", tz: "America/New_York", handled: "2026-01-14T12:00:00Z", now: "2026-01-15T03:00:00Z", next: "2026-01-15T07:00:00Z"},
		// Daylight saving (robfig/cron, like CronJob): a slot in the
		// skipped hour does not run that day, one in the repeated hour
		// runs twice, as two distinct slots.
		{name: "spring forward skips 02:30", expr: "30 2 * * *", tz: "Europe/Berlin", handled: "2026-03-28T12:00:00Z", now: "2026-03-29T12:00:00Z", next: "2026-03-30T00:30:00Z"},
		{name: "fall back runs 02:30 CEST", expr: "30 2 * * *", tz: "Europe/Berlin", handled: "2026-10-24T12:00:00Z", now: "2026-10-25T01:00:00Z", due: "2026-10-25T00:30:00Z", next: "2026-10-25T01:30:00Z"},
		{name: "then 02:30 CET", expr: "30 2 * * *", tz: "Europe/Berlin", handled: "2026-10-25T00:30:00Z", now: "2026-10-25T02:00:00Z", due: "2026-10-25T01:30:00Z", next: "2026-10-26T01:30:00Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tz *string
			if c.tz != "" {
				tz = &c.tz
			}
			s, loc, err := parseSchedule(c.expr, tz)
			if err != nil {
				t.Fatal(err)
			}
			got, err := planSlots(s, loc, utc(c.handled), utc(c.now), c.deadline, c.suspend)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, got time.Time, want string) {
				t.Helper()
				if want == "" {
					if !got.IsZero() {
						t.Errorf("%s = %s, want none", what, got.Format(time.RFC3339))
					}
					return
				}
				if !got.Equal(utc(want)) || got.Location() != time.UTC {
					t.Errorf("%s = %s, want %s", what, got, want)
				}
			}
			check("due", got.Due, c.due)
			check("missed", got.Missed, c.missed)
			check("next", got.Next, c.next)
		})
	}
}

func TestPlanSlotsNeverFires(t *testing.T) {
	s, loc, err := parseSchedule("0 0 30 2 *", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := planSlots(s, loc, utc("2026-01-01T00:00:00Z"), utc("2026-05-01T00:00:00Z"), nil, false); err != errNeverFires {
		t.Fatalf("February 30: %v, want errNeverFires", err)
	}
}

// A pass over a long outage of a per-minute schedule stays cheap: the
// recent window is searched first.
func TestMostRecentSlotLongOutage(t *testing.T) {
	s, loc, _ := parseSchedule("* * * * *", nil)
	start := time.Now()
	got := mostRecentSlot(s, loc, utc("2020-01-01T00:00:00Z"), utc("2026-05-01T11:30:30Z"))
	if !got.Equal(utc("2026-05-01T11:30:00Z")) {
		t.Fatalf("got %s", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %s", d)
	}
}
