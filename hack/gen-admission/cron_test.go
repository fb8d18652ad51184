package main

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/robfig/cron/v3"
)

// parses is the operator's reading of a schedule (controllers/internal/
// cronslot.Parse, which hack/ may not import): robfig/cron's standard
// fields plus descriptors, without @every or a TZ= prefix.
func parses(expr string) bool {
	if strings.HasPrefix(expr, "@every") || strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return false
	}
	_, err := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor).Parse(expr)
	return err == nil
}

var (
	shape     = regexp.MustCompile(CronShape())
	shapeFive = regexp.MustCompile("^" + cronToken + "(" + cronBlank + cronToken + "){4}$")
	fiveOK    = regexp.MustCompile(CronFiveFields())
)

// admits is what the two generated CEL rules accept.
func admits(expr string) bool {
	return shape.MatchString(expr) && (!shapeFive.MatchString(expr) || fiveOK.MatchString(expr))
}

// A range whose start is past its end: refused by the parser only (the
// controller reports it once as InvalidSchedule).
var reversedRange = regexp.MustCompile(`(^|[ ,])([0-9]+|[A-Za-z]{3})-([0-9]+|[A-Za-z]{3})`)

// Noise the parser skips and admission refuses.
var noise = regexp.MustCompile(`^ | $|  |\+|,,|(^| ),|,($| )`)

func TestCronRulesMatchTheParser(t *testing.T) {
	patterns := []string{CronShape(), CronFiveFields()}
	for i := range cronFields {
		patterns = append(patterns, cronFieldAt(i))
	}
	for _, p := range patterns {
		if strings.ContainsAny(p, `\'"`) {
			t.Fatalf("%s: a backslash or a quote would be read differently by the marker, CEL and RE2", p)
		}
	}
	for _, tc := range []struct {
		expr string
		ok   bool
	}{
		{"0 3 * * *", true}, {"*/15 * * * *", true}, {"0 0 1 1 *", true}, {"59 23 31 12 6", true},
		{"0 3 * * MON-FRI", true}, {"0 3 * JAN,jul sun", true}, {"0\t3  * * *", true}, {"00 03 01 01 00", true},
		{"5/10 * * * *", true}, {"0-30/5 * ? * ?", true}, {"1,2,3 4-5 6 7 0", true},
		{"@daily", true}, {"@midnight", true}, {"@annually", true}, {"@hourly", true},
		{"60 * * * *", false}, {"* 24 * * *", false}, {"* * 0 * *", false}, {"* * 32 * *", false},
		{"* * * 13 *", false}, {"* * * 0 *", false}, {"* * * * 7", false}, {"* * * * SUNDAY", false},
		{"*/0 * * * *", false}, {"a b c d e", false}, {"0 3 * * * *", false}, {"0 3 * *", false},
		{"@every 1h", false}, {"CRON_TZ=UTC 0 3 * * *", false}, {"@reboot", false}, {"1-2-3 * * * *", false},
		{"1/2/3 * * * *", false}, {"-1 * * * *", false}, {"L * * * *", false}, {"* * * * 1#2", false},
		{"1,,2 * * * *", false}, {"0 3 * * FRI-", false}, {"@DAILY", false}, {" 0 3 * * *", false},
	} {
		if got := admits(tc.expr); got != tc.ok {
			t.Errorf("admission accepts %q: %v, want %v", tc.expr, got, tc.ok)
		}
		if tc.ok && !parses(tc.expr) {
			t.Errorf("the table says %q is good, the parser refuses it", tc.expr)
		}
	}

	// Random schedules built from good and bad pieces: admission agrees
	// with the parser on every one, except reversed ranges (left to the
	// controller), and noise admission refuses although the parser skips
	// it: a leading or doubled blank, an empty list item (1,,2 or 1,) and a
	// plus sign (+5).
	pieces := []string{"*", "?", "0", "5", "7", "12", "23", "24", "31", "32", "59", "60", "00", "jan", "DEC", "sun", "Sat", "mon",
		"x", "1-5", "5-1", "0-59", "2-30", "*/5", "*/0", "3/4", "1-5/2", "", "-", "/", "1,2", "mon-fri", "L", "+1"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		fields := make([]string, 5)
		for i := range fields {
			f := pieces[rng.IntN(len(pieces))]
			if rng.IntN(4) == 0 {
				f += "," + pieces[rng.IntN(len(pieces))]
			}
			fields[i] = f
		}
		expr := strings.Join(fields, " ")
		a, p := admits(expr), parses(expr)
		switch {
		case a == p:
		case a && !p && reversedRange.MatchString(expr):
		case !a && p && noise.MatchString(expr):
		default:
			t.Errorf("%q: admission accepts %v, the parser %v", expr, a, p)
		}
	}
}
