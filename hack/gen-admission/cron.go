package main

import (
	"fmt"
	"strings"
)

// The cron rules shared by EtcdBackupSchedule.spec.schedule and
// EtcdCluster.spec.defragmentation.schedule. They accept what the
// operator's parser (controllers/internal/cronslot: robfig/cron's standard
// five fields plus the @-descriptors other than @every) accepts, field by
// field with each field's bounds, so a bad schedule is refused at
// admission rather than reported by the controller. One thing a regular
// expression cannot check is left to the controller: a range whose start
// is past its end (5-1, FRI-MON).
//
// The patterns use no backslash and no quote, so the CEL string literal,
// the marker's Go-quoted value and RE2 all read them the same way
// (TestCronRulesMatchTheParser compiles them with Go's regexp, which is
// what CEL's matches() uses).

// cronField is one of the five fields: its name, its values for the
// message, and a pattern for one value.
type cronField struct{ name, values, value string }

var cronFields = []cronField{
	{"minute", "0-59", "0*([0-9]|[1-5][0-9])"},
	{"hour", "0-23", "0*([0-9]|1[0-9]|2[0-3])"},
	{"day-of-month", "1-31", "0*([1-9]|[12][0-9]|3[01])"},
	{"month", "1-12 or JAN-DEC", "(0*([1-9]|1[0-2])|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))"},
	{"day-of-week", "0-6 or SUN-SAT", "(0*[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat))"},
}

const (
	cronBlank       = "[[:blank:]]+"
	cronToken       = "[^[:blank:]]+"
	cronDescriptors = "@(yearly|annually|monthly|weekly|daily|midnight|hourly)"
)

// cronFieldPattern matches one field: a comma-separated list of *, ?, a
// value or a range a-b, each with an optional /step (a positive number).
func cronFieldPattern(value string) string {
	item := "([*?]|" + value + "(-" + value + ")?)(/0*[1-9][0-9]*)?"
	return "(" + item + "(," + item + ")*)"
}

// CronShape matches five blank-separated tokens or a descriptor.
func CronShape() string {
	return "^(" + cronDescriptors + "|" + cronToken + "(" + cronBlank + cronToken + "){4})$"
}

// CronFiveFields matches five fields, each within its bounds.
func CronFiveFields() string {
	p := make([]string, len(cronFields))
	for i, f := range cronFields {
		p[i] = cronFieldPattern(f.value)
	}
	return "^" + strings.Join(p, cronBlank) + "$"
}

// cronFieldAt matches a schedule whose field i is within its bounds.
func cronFieldAt(i int) string {
	return "^(" + cronToken + cronBlank + "){" + fmt.Sprint(i) + "}" + cronFieldPattern(cronFields[i].value) + "([[:blank:]]|$)"
}

// CronRules are the marker lines of the two schedule rules: the shape,
// then each field's values, with a message naming the first bad field.
func CronRules() []string {
	shapeOnly := "^" + cronToken + "(" + cronBlank + cronToken + "){4}$"
	which := ""
	for i, f := range cronFields[:len(cronFields)-1] {
		which += fmt.Sprintf("!self.matches('%s') ? '%s field must be %s' : ", cronFieldAt(i), f.name, f.values)
	}
	last := cronFields[len(cronFields)-1]
	which += fmt.Sprintf("'%s field must be %s'", last.name, last.values)
	return []string{
		fmt.Sprintf(`+kubebuilder:validation:XValidation:rule="self.matches('%s')",message="schedule must be five cron fields or @yearly, @monthly, @weekly, @daily or @hourly; set the time zone with timeZone"`,
			CronShape()),
		fmt.Sprintf(`+kubebuilder:validation:XValidation:rule="!self.matches('%s') || self.matches('%s')",messageExpression="'schedule ' + self + ': its ' + (%s) + ' (each field is *, a value, a range a-b or a comma-separated list of them, each with an optional /step)'"`,
			shapeOnly, CronFiveFields(), which),
	}
}
