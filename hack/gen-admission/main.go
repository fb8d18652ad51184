// Command gen-admission generates the admission lists that CEL cannot compute:
// the etcd configuration keys a user may set in an EtcdCluster's
// spec.etcdOptions, and the IANA time zone names an EtcdBackupSchedule may use.
//
// The etcd keys come from the bundled etcd server: the json tags of
// go.etcd.io/etcd/server/v3/embed.Config (what etcd's config-file parser and
// quorum-etcd's own check in etcdserver/server/options.go read), plus the few
// keys etcd parses into an unexported struct. Keys the operator controls
// (package configkeys) are removed, and so are keys whose value is a list or
// a structure: etcdOptions values are strings, rendered as YAML scalars, and
// etcd would fail to parse them. The time zones are the names in Go's
// embedded tzdata ($GOROOT/lib/time/zoneinfo.zip, the source of
// time/tzdata, which the operator links in).
//
// It writes api/v1alpha1/zz_generated.admission.go and rewrites the
// generated marker blocks in api/v1alpha1 (between
// "+quorum:generated:begin=NAME" and "+quorum:generated:end" comment lines),
// from which controller-gen writes the CRDs. `make generate` runs it.
//
//	go run ./hack/gen-admission [-dir api/v1alpha1]
package main

import (
	"archive/zip"
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"
	_ "time/tzdata"

	"go.etcd.io/etcd/api/v3/version"
	"go.etcd.io/etcd/server/v3/embed"

	"quorum.dev/etcd-operator/etcdserver/configkeys"
)

func main() {
	dir := flag.String("dir", "api/v1alpha1", "directory of the API types")
	flag.Parse()
	zones, err := timeZones()
	if err != nil {
		log.Fatal(err)
	}
	g := Generate(EtcdKeys(), configkeys.RefusedInSpec(), zones)
	if err := g.Write(*dir); err != nil {
		log.Fatal(err)
	}
}

// Kind is how an etcdOptions value must be written for etcd to parse it.
type Kind int

const (
	// KindString takes any string.
	KindString Kind = iota
	// KindBool takes true or false.
	KindBool
	// KindInt takes a decimal integer; durations are nanoseconds.
	KindInt
	// KindUint takes a non-negative decimal integer.
	KindUint
	// KindOther is a list or a structure: not expressible as one string.
	KindOther
)

// fileOnlyKeys are config-file keys etcd parses into its unexported
// configJSON struct (embed/config.go), so reflection on embed.Config cannot
// find them. etcdserver/server/options.go lists the same keys;
// TestEveryAllowedKeyIsKnownToQuorumEtcd checks the two agree on every key
// the CRD allows.
var fileOnlyKeys = map[string]Kind{
	"listen-peer-urls":            KindString,
	"listen-client-urls":          KindString,
	"listen-client-http-urls":     KindString,
	"initial-advertise-peer-urls": KindString,
	"advertise-client-urls":       KindString,
	"cors":                        KindString,
	"host-whitelist":              KindString,
	"client-transport-security":   KindOther,
	"peer-transport-security":     KindOther,
	"feature-gates":               KindString,
}

// EtcdKeys returns every config-file key of the bundled etcd with the kind
// of value it takes.
func EtcdKeys() map[string]Kind {
	keys := map[string]Kind{}
	t := reflect.TypeOf(embed.Config{})
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		keys[name] = kindOf(f.Type)
	}
	for k, kind := range fileOnlyKeys {
		keys[k] = kind
	}
	return keys
}

func kindOf(t reflect.Type) Kind {
	switch t.Kind() {
	case reflect.String:
		return KindString
	case reflect.Bool:
		return KindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return KindInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return KindUint
	default:
		return KindOther
	}
}

// Generated is what gen-admission writes.
type Generated struct {
	EtcdVersion string
	// Allowed keys by kind, sorted; AllowedKeys is all of them.
	AllowedKeys, BoolKeys, IntKeys, UintKeys []string
	// Refused maps the keys the operator controls to the reason.
	Refused map[string]string
	// Unsettable are etcd keys that take a list or a structure.
	Unsettable []string
	TimeZones  []string
}

// Generate splits etcd's keys into the allowed ones (by kind), the refused
// ones and the ones a string cannot set.
func Generate(keys map[string]Kind, refused map[string]string, zones []string) Generated {
	g := Generated{EtcdVersion: version.Version, Refused: refused, TimeZones: zones}
	for k, kind := range keys {
		if _, ok := refused[k]; ok {
			continue
		}
		switch kind {
		case KindOther:
			g.Unsettable = append(g.Unsettable, k)
			continue
		case KindBool:
			g.BoolKeys = append(g.BoolKeys, k)
		case KindInt:
			g.IntKeys = append(g.IntKeys, k)
		case KindUint:
			g.UintKeys = append(g.UintKeys, k)
		}
		g.AllowedKeys = append(g.AllowedKeys, k)
	}
	for _, l := range [][]string{g.AllowedKeys, g.BoolKeys, g.IntKeys, g.UintKeys, g.Unsettable} {
		slices.Sort(l)
	}
	return g
}

// timeZones lists the zone names in Go's zoneinfo.zip that time.LoadLocation
// loads.
func timeZones() ([]string, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("finding GOROOT: %w", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "lib", "time", "zoneinfo.zip")
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("reading Go's time zone database: %w", err)
	}
	defer z.Close()
	var zones []string
	for _, f := range z.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if _, err := time.LoadLocation(f.Name); err != nil {
			return nil, fmt.Errorf("zone %s of %s: %w", f.Name, path, err)
		}
		zones = append(zones, f.Name)
	}
	slices.Sort(zones)
	if len(zones) < 300 {
		return nil, fmt.Errorf("%s lists only %d zones", path, len(zones))
	}
	return zones, nil
}

// Write writes zz_generated.admission.go and the marker blocks into dir.
func (g Generated) Write(dir string) error {
	src, err := g.GoFile()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "zz_generated.admission.go"), src, 0o644); err != nil {
		return err
	}
	for file, blocks := range g.MarkerBlocks() {
		path := filepath.Join(dir, file)
		old, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		updated := old
		for name, lines := range blocks {
			if updated, err = replaceBlock(updated, name, lines); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		if !bytes.Equal(old, updated) {
			if err := os.WriteFile(path, updated, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// replaceBlock replaces the lines between "// +quorum:generated:begin=name"
// and the next "// +quorum:generated:end" with lines, indented as the begin
// line.
func replaceBlock(src []byte, name string, lines []string) ([]byte, error) {
	in := strings.Split(string(src), "\n")
	begin := slices.IndexFunc(in, func(l string) bool { return strings.TrimSpace(l) == "// +quorum:generated:begin="+name })
	if begin < 0 {
		return nil, fmt.Errorf("no generated block %q", name)
	}
	end := slices.IndexFunc(in[begin:], func(l string) bool { return strings.TrimSpace(l) == "// +quorum:generated:end" })
	if end < 0 {
		return nil, fmt.Errorf("generated block %q is not closed", name)
	}
	end += begin
	indent := in[begin][:len(in[begin])-len(strings.TrimLeft(in[begin], "\t "))]
	block := make([]string, 0, len(lines))
	for _, l := range lines {
		block = append(block, indent+"// "+l)
	}
	out := slices.Concat(in[:begin+1], block, in[end:])
	return []byte(strings.Join(out, "\n")), nil
}

// celString is a CEL string literal as written inside a marker's
// double-quoted value (which controller-gen unquotes as Go does).
func celString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `\\'`) + "'"
}

// celList is a CEL list literal of quoted strings.
func celList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = celString(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// MarkerBlocks returns, per file and block name, the marker lines of the
// generated CEL rules. Every rule names each offending key in its message.
// Keys with leading dashes are refused by a hand-written rule and skipped
// here, so that each bad key gets one message.
//
// A message never filters the map twice: the order in which CEL walks a
// map is not fixed, so two filters may yield different keys (a key paired
// with another key's reason). The controlled keys are each asked of the
// map, in sorted order, each with its own reason; the other messages name
// the first key of one filter.
// (cel.bind is not offered to CRD rules by the API server of Kubernetes
// 1.37: "undeclared reference to 'cel'".)
//
// Number values are not checked here: a regular expression on a map value
// with no maxLength (controller-gen cannot set one on map values) exceeds
// CEL's estimated cost budget. quorum-etcd refuses them when it starts.
func (g Generated) MarkerBlocks() map[string]map[string][]string {
	refused := sortedKeys(g.Refused)
	controlled := celList(refused)
	allowed := celList(g.AllowedKeys)
	// Each controlled key the user wrote, with its own reason, in sorted
	// order: a sum of constant strings, so its cost is bounded (a join
	// over the map's keys, or over a filtered list, is not).
	terms := make([]string, len(refused))
	for i, k := range refused {
		terms[i] = fmt.Sprintf("(%s in self ? %s : '')", celString(k), celString(k+": "+g.Refused[k]+"; "))
	}
	controlledMsg := "'etcdOptions may not set options the operator controls: ' + " + strings.Join(terms, " + ") + " + 'remove them from spec.etcdOptions'"
	// The first offending key, from one filter: its order is not fixed,
	// so only one filter may name the key. A second filter for a count
	// would exceed the cost budget.
	first := func(cond, what string) string {
		return "'etcdOptions key ' + self.filter(k, " + cond + ")[0] + " + what
	}

	unknown := "!k.startsWith('-') && !(k in " + controlled + ") && !(k in " + allowed + ")"
	badBool := "k in " + celList(g.BoolKeys) + " && !(self[k] in ['true','false'])"
	etcdOptions := []string{
		fmt.Sprintf(`+kubebuilder:validation:XValidation:rule="self.all(k, !(k in %s))",messageExpression="%s"`,
			controlled, controlledMsg),
		// One allow-list is generated, from the bundled etcd; the message
		// says so, because spec.version may name another release.
		fmt.Sprintf(`+kubebuilder:validation:XValidation:rule="!self.exists(k, %s)",messageExpression="%s"`,
			unknown, first(unknown, "' is not in the allow-list of etcd "+g.EtcdVersion+" configuration options (the list of the bundled etcd, applied whatever spec.version says; use etcd config-file names, e.g. snapshot-count; the experimental- names of etcd 3.6 are not accepted)'")),
		fmt.Sprintf(`+kubebuilder:validation:XValidation:rule="!self.exists(k, %s)",messageExpression="%s"`,
			badBool, first(badBool, "' must be true or false'")),
	}
	timeZone := []string{
		fmt.Sprintf(`+kubebuilder:validation:XValidation:rule="self in %s",messageExpression="'timeZone ' + self + ' is not an IANA time zone name (e.g. Europe/Berlin, America/New_York, UTC)'"`,
			celList(g.TimeZones)),
	}
	schedule := CronRules()
	return map[string]map[string][]string{
		"etcdcluster_types.go":        {"etcdOptions": etcdOptions},
		"etcdbackupschedule_types.go": {"timeZone": timeZone, "schedule": schedule},
		"maintenance_types.go":        {"timeZone": timeZone, "schedule": schedule},
	}
}

// GoFile is zz_generated.admission.go.
func (g Generated) GoFile() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by hack/gen-admission. DO NOT EDIT.\n\npackage v1alpha1\n\n")
	fmt.Fprintf(&b, "// etcdOptionsVersion is the bundled etcd version whose configuration keys are listed.\nconst etcdOptionsVersion = %q\n\n", g.EtcdVersion)
	list := func(doc, name string, items []string) {
		fmt.Fprintf(&b, "// %s\nvar %s = []string{\n", doc, name)
		for _, s := range items {
			fmt.Fprintf(&b, "\t%q,\n", s)
		}
		fmt.Fprintf(&b, "}\n\n")
	}
	list("etcdOptionKeys are the etcd configuration keys spec.etcdOptions may set.", "etcdOptionKeys", g.AllowedKeys)
	list("etcdOptionBoolKeys take true or false.", "etcdOptionBoolKeys", g.BoolKeys)
	list("etcdOptionIntKeys take a whole number (durations in nanoseconds).", "etcdOptionIntKeys", g.IntKeys)
	list("etcdOptionUintKeys take a non-negative whole number.", "etcdOptionUintKeys", g.UintKeys)
	list("etcdOptionRefusedKeys are set by the operator (see package etcdserver/configkeys).", "etcdOptionRefusedKeys", sortedKeys(g.Refused))
	list("etcdOptionUnsettableKeys take a list or a structure, which a string value cannot give.", "etcdOptionUnsettableKeys", g.Unsettable)
	list("timeZoneNames are the IANA time zones in Go's embedded tzdata.", "timeZoneNames", g.TimeZones)
	return format.Source(b.Bytes())
}
