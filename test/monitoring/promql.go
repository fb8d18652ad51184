// Package monitoring tests what the project ships for Prometheus and
// Grafana: the alert rules (promtool check and unit tests, make test), and
// that every query of the rules and of the chart's dashboard names only
// metrics that the operator registers or that etcd exports.
package monitoring

import (
	"regexp"
	"sort"
	"strings"
)

var (
	strLit      = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	matchers    = regexp.MustCompile(`\{[^}]*\}`)
	ranges      = regexp.MustCompile(`\[[^\]]*\]`)
	grouping    = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	labelValues = regexp.MustCompile(`label_values\(\s*([^,()]+(?:\{[^}]*\})?)\s*,\s*\w+\s*\)`)
	ident       = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	keywords    = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true, "Inf": true, "NaN": true}
)

// metricNames returns the metric names a PromQL query (or a Grafana
// label_values(metric, label) query) selects, sorted. It is a tokenizer,
// not a parser: strings, label matchers, ranges and grouping clauses are
// removed, then every identifier that is not a function call, an
// aggregation or a keyword is a metric name. Grafana variables ($x) are
// not names.
func metricNames(query string) []string {
	q := labelValues.ReplaceAllString(query, "$1")
	q = strLit.ReplaceAllString(q, `""`)
	q = matchers.ReplaceAllString(q, " ")
	q = ranges.ReplaceAllString(q, " ")
	q = grouping.ReplaceAllString(q, " ")
	seen := map[string]bool{}
	for _, m := range ident.FindAllStringIndex(q, -1) {
		name := q[m[0]:m[1]]
		if m[0] > 0 && strings.ContainsRune("0123456789.$", rune(q[m[0]-1])) {
			continue // a duration's unit (5m), a number, a variable
		}
		if rest := strings.TrimLeft(q[m[1]:], " \t\n"); strings.HasPrefix(rest, "(") || keywords[name] {
			continue // a function or aggregation, or a keyword
		}
		seen[name] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// familyNames expands a metric family to the series names Prometheus
// stores: a histogram's _bucket, _sum and _count, a summary's quantiles
// (its own name), _sum and _count.
func familyNames(name, typ string) []string {
	switch strings.ToLower(typ) {
	case "histogram":
		return []string{name + "_bucket", name + "_sum", name + "_count"}
	case "summary":
		return []string{name, name + "_sum", name + "_count"}
	}
	return []string{name}
}
