package server

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/version"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/yaml"

	"quorum.dev/etcd-operator/etcdserver/configkeys"
)

// fileOnlyKeys are config-file keys etcd parses into an unexported struct
// (embed's configJSON), so they cannot be found by reflecting on embed.Config.
var fileOnlyKeys = []string{
	"listen-peer-urls", "listen-client-urls", "listen-client-http-urls",
	"initial-advertise-peer-urls", "advertise-client-urls",
	"cors", "host-whitelist",
	"client-transport-security", "peer-transport-security",
	"feature-gates",
}

// knownKeys is every key etcd's config file understands, derived from the
// json tags of embed.Config of the etcd version this binary is built with.
var knownKeys = func() map[string]bool {
	keys := map[string]bool{}
	t := reflect.TypeOf(embed.Config{})
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		keys[name] = true
	}
	for _, k := range fileOnlyKeys {
		keys[k] = true
	}
	return keys
}()

// LoadOptions reads a YAML file of extra etcd options written with etcd's
// config-file keys (e.g. quota-backend-bytes, auto-compaction-mode,
// auto-compaction-retention, snapshot-count, log-level) and returns an
// embed.Config holding etcd's defaults overlaid with those options.
//
// Keys that quorum-etcd controls (see package configkeys) and keys etcd does
// not know are rejected, all of them in one error. Values are checked by
// etcd's own parser and validation, plus the checks etcd would otherwise only
// make when starting (log level, compaction retention).
func LoadOptions(path string) (*embed.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading etcd options: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("parsing etcd options %s (expected a YAML mapping of etcd config-file keys): %w", path, err)
	}
	if err := checkOptionKeys(raw); err != nil {
		return nil, fmt.Errorf("etcd options %s: %w", path, err)
	}
	if err := checkOptionValues(raw); err != nil {
		return nil, fmt.Errorf("etcd options %s: %w", path, err)
	}
	cfg, err := embed.ConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("etcd options %s: %w", path, err)
	}
	return cfg, nil
}

func checkOptionKeys(raw map[string]any) error {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		if reason, ok := configkeys.Controlled(k); ok {
			errs = append(errs, fmt.Errorf("key %q is set by quorum-etcd and may not be overridden: %s", k, reason))
			continue
		}
		if !knownKeys[k] {
			errs = append(errs, fmt.Errorf("unknown key %q (not an etcd %s config-file key)", k, version.Version))
		}
	}
	return errors.Join(errs...)
}

// checkOptionValues catches values that etcd would panic on while loading
// (log-level) or only reject once the server is starting (compaction).
func checkOptionValues(raw map[string]any) error {
	var errs []error
	if v, ok := raw["log-level"]; ok {
		s, isString := v.(string)
		var lvl zapcore.Level
		if !isString || lvl.Set(s) != nil {
			errs = append(errs, fmt.Errorf("log-level %v must be one of debug, info, warn, error, dpanic, panic, fatal", v))
		}
	}
	mode, _ := raw["auto-compaction-mode"].(string)
	if v, ok := raw["auto-compaction-retention"]; ok {
		if err := checkRetention(mode, fmt.Sprint(v)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkRetention mirrors etcd's parsing of auto-compaction-retention: an
// integer (hours for periodic, revisions for revision) or, for periodic, a
// Go duration.
func checkRetention(mode, retention string) error {
	if _, err := strconv.Atoi(retention); err == nil {
		return nil
	}
	if mode == "" || mode == embed.CompactorModePeriodic {
		if _, err := time.ParseDuration(retention); err == nil {
			return nil
		}
		return fmt.Errorf("auto-compaction-retention %q must be a duration (e.g. 1h) or a number of hours", retention)
	}
	return fmt.Errorf("auto-compaction-retention %q must be a number of revisions in revision mode", retention)
}
