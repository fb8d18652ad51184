package v1alpha1

import "slices"

// EtcdOptionKeys returns the etcd configuration keys spec.etcdOptions may
// set, sorted: the bundled etcd version's config-file keys less those the
// operator controls and those a string cannot set. hack/gen-admission
// generates the list (zz_generated.admission.go) and the CRD rules from it.
func EtcdOptionKeys() []string {
	return slices.Clone(etcdOptionKeys)
}

// EtcdOptionsVersion is the etcd version EtcdOptionKeys was generated from.
func EtcdOptionsVersion() string { return etcdOptionsVersion }

// EtcdOptionIsBool reports whether etcd reads key's value as a boolean
// ("true" or "false", unquoted in etcd's config file).
func EtcdOptionIsBool(key string) bool {
	_, ok := slices.BinarySearch(etcdOptionBoolKeys, key)
	return ok
}

// EtcdOptionIsNumber reports whether etcd reads key's value as a whole
// number (unquoted in etcd's config file; durations in nanoseconds). Every
// option that is neither a boolean nor a number is a string.
func EtcdOptionIsNumber(key string) bool {
	_, i := slices.BinarySearch(etcdOptionIntKeys, key)
	_, u := slices.BinarySearch(etcdOptionUintKeys, key)
	return i || u
}

// TimeZoneNames returns the IANA time zone names an EtcdBackupSchedule may
// use: those of Go's embedded tzdata, which the operator links in.
func TimeZoneNames() []string {
	return slices.Clone(timeZoneNames)
}
