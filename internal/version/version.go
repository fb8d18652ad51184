// Package version is Quorum's own release version.
package version

// Version is the Quorum release this operator belongs to (semantic
// versioning, no leading "v"). The Makefile reads it from this line for
// OPERATOR_VERSION and the image tags; the chart's appVersion must equal
// it (test/helm checks).
var Version = "0.1.0"

// ServerTagSuffix is appended to an etcd version to form the bundled
// server image's tag: "<etcd version>-quorum.<Version>", for example
// "3.7.3-quorum.0.1.0". The server image carries Quorum's own code
// (quorum-etcd) beside etcd, so a new Quorum release is a new tag: an
// operator upgrade changes the members' image and they roll onto the new
// server binary through the ordinary health-gated rollout, instead of a
// node silently running whichever build of the same tag it pulled.
func ServerTagSuffix() string { return "-quorum." + Version }
