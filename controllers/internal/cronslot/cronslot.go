// Package cronslot reads a cron schedule with its time zone and finds the
// slot a pass should act on. Pure: no clock of its own.
package cronslot

import (
	"fmt"
	"strings"
	"time"

	// Time zones for spec timeZone fields, also in images without
	// /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// parser reads standard five-field expressions and the @-descriptors.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// recentWindow: the most recent slot is looked for in this window before
// now first, so that a schedule idle for months is not walked slot by slot.
const recentWindow = 24 * time.Hour

// Parse reads a cron expression (five fields or an @-descriptor other than
// @every) and an IANA time zone name (nil: UTC). tzField names the time
// zone's field for the user (spec.timeZone). The error is a sentence for
// the user.
func Parse(expr string, timeZone *string, tzField string) (cron.Schedule, *time.Location, error) {
	expr = strings.TrimSpace(expr)
	switch {
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return nil, nil, fmt.Errorf("schedule %q: set the time zone in %s, not in the schedule", expr, tzField)
	case strings.HasPrefix(expr, "@every"):
		return nil, nil, fmt.Errorf("schedule %q: @every is not supported, use five cron fields", expr)
	}
	s, err := parser.Parse(expr)
	if err != nil {
		return nil, nil, fmt.Errorf("schedule %q: %w", expr, err)
	}
	loc := time.UTC
	if timeZone != nil {
		if *timeZone == "" || *timeZone == "Local" {
			return nil, nil, fmt.Errorf("time zone %q: name an IANA time zone such as Europe/Berlin", *timeZone)
		}
		if loc, err = time.LoadLocation(*timeZone); err != nil {
			return nil, nil, fmt.Errorf("time zone %q: %w", *timeZone, err)
		}
	}
	return s, loc, nil
}

// MostRecent is the latest slot of s (read in loc) in (after, now], in
// UTC, or zero when none.
func MostRecent(s cron.Schedule, loc *time.Location, after, now time.Time) time.Time {
	walk := func(from time.Time) time.Time {
		var last time.Time
		for t := s.Next(from.In(loc)); !t.IsZero() && !t.After(now); t = s.Next(t) {
			last = t
		}
		return last.UTC()
	}
	if w := now.Add(-recentWindow); w.After(after) {
		if slot := walk(w); !slot.IsZero() {
			return slot
		}
	}
	return walk(after)
}

// Next is the first slot of s (read in loc) after now, in UTC; zero when
// the schedule never fires.
func Next(s cron.Schedule, loc *time.Location, now time.Time) time.Time {
	return s.Next(now.In(loc)).UTC()
}
