package etcdbackupschedule

import (
	"errors"
	"time"

	"github.com/robfig/cron/v3"

	"quorum.dev/etcd-operator/controllers/internal/cronslot"
)

// parseSchedule reads spec.schedule and spec.timeZone (cronslot.Parse). The
// error is a sentence for the user.
func parseSchedule(expr string, timeZone *string) (cron.Schedule, *time.Location, error) {
	return cronslot.Parse(expr, timeZone, "spec.timeZone")
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
	p := slotPlan{Next: cronslot.Next(s, loc, now)}
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

// mostRecentSlot is the latest slot in (after, now], or zero
// (cronslot.MostRecent).
func mostRecentSlot(s cron.Schedule, loc *time.Location, after, now time.Time) time.Time {
	return cronslot.MostRecent(s, loc, after, now)
}
