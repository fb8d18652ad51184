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

// EtcdOptionIsBoolOrNumber reports whether etcd reads key's value as a
// boolean or a number, which etcd's config file must then hold unquoted;
// every other option's value is a string and must be quoted.
func EtcdOptionIsBoolOrNumber(key string) bool {
	_, b := slices.BinarySearch(etcdOptionBoolKeys, key)
	_, i := slices.BinarySearch(etcdOptionIntKeys, key)
	_, u := slices.BinarySearch(etcdOptionUintKeys, key)
	return b || i || u
}

// TimeZoneNames returns the IANA time zone names an EtcdBackupSchedule may
// use: those of Go's embedded tzdata, which the operator links in.
func TimeZoneNames() []string {
	return slices.Clone(timeZoneNames)
}
