package etcdbackupschedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	// Time zones for spec.timeZone, also in images without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// cronParser reads standard five-field expressions and the @-descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// recentWindow: the most recent slot is looked for in this window before
// now first, so that a schedule idle for months is not walked slot by slot.
const recentWindow = 24 * time.Hour

// parseSchedule reads spec.schedule and spec.timeZone. The error is a
// sentence for the user.
func parseSchedule(expr string, timeZone *string) (cron.Schedule, *time.Location, error) {
	expr = strings.TrimSpace(expr)
	switch {
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return nil, nil, fmt.Errorf("schedule %q: set the time zone in spec.timeZone, not in the schedule", expr)
	case strings.HasPrefix(expr, "@every"):
		return nil, nil, fmt.Errorf("schedule %q: @every is not supported, use five cron fields", expr)
	}
	s, err := cronParser.Parse(expr)
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

// errNeverFires: the expression parses but names no real date (Feb 30).
var errNeverFires = errors.New("the schedule never fires")

// slotPlan is what one pass does about the schedule.
type slotPlan struct {
	// Due is the slot to back up now; zero when none.
	Due time.Time
	// Missed is a slot that came more than the starting deadline ago: it
	// is skipped, not run. Zero when none.
	Missed time.Time
	// Next is the first slot after now; zero when suspended.
	Next time.Time
}

// planSlots decides which slot, if any, a pass at now backs up. handled is
// the latest slot already handled (backed up or skipped), or the
// schedule's creation time. Only the most recent slot in (handled, now]
// counts, so however many slots were missed, one backup at most is made.
// That slot is Missed instead of Due when it is older than deadline (nil:
// no deadline). A suspended schedule plans nothing.
func planSlots(s cron.Schedule, loc *time.Location, handled, now time.Time, deadline *time.Duration, suspend bool) (slotPlan, error) {
	if suspend {
		return slotPlan{}, nil
	}
	p := slotPlan{Next: s.Next(now.In(loc)).UTC()}
	if p.Next.IsZero() {
		return slotPlan{}, errNeverFires
	}
	slot := mostRecentSlot(s, loc, handled, now)
	switch {
	case slot.IsZero():
	case deadline != nil && now.Sub(slot) > *deadline:
		p.Missed = slot
	default:
		p.Due = slot
	}
	return p, nil
}

// mostRecentSlot is the latest slot in (after, now], or zero.
func mostRecentSlot(s cron.Schedule, loc *time.Location, after, now time.Time) time.Time {
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
