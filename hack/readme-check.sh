#!/usr/bin/env bash
# Runs a walkthrough of README.md exactly as written: the ```sh blocks
# between `<!-- readme-check: NAME begin -->` and `<!-- readme-check: NAME
# end -->`, in order, in one bash (-euo pipefail, each command traced), from
# the repository's root, against the local cluster (hack/cluster.sh) with the
# operator installed. The e2e suite runs it (test/e2e/readme_test.go).
#
# Usage: hack/readme-check.sh [NAME]     (default: local-backup)
#
# So that a run never touches the reader's own MinIO, MinIO's state goes to
# a temporary directory (MINIO_STATE_DIR). Whatever the walkthrough creates
# is removed afterwards, also when a block fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/versions.sh

name=${1:-local-backup}
die() { echo "readme-check: $*" >&2; exit 1; }

blocks=$(awk -v begin="<!-- readme-check: $name begin -->" -v end="<!-- readme-check: $name end -->" '
  $0 == begin { on = 1; next }
  $0 == end   { on = 0; next }
  on && !fence && /^```sh$/ { fence = 1; next }
  on && fence && /^```$/    { fence = 0; print ""; next }
  on && fence               { print }
' README.md)
[[ -n ${blocks//[[:space:]]/} ]] || die "no \`\`\`sh blocks between the '$name' markers in README.md"

work=$(mktemp -d /tmp/readme-check.XXXXXX)
export MINIO_STATE_DIR=$work/minio
kc() { "$K8S_BIN/kubectl" --kubeconfig "$(hack/cluster.sh kubeconfig)" "$@"; }
cleanup() {
  kc delete namespace backup-demo --ignore-not-found --wait=false >/dev/null 2>&1 || true
  hack/minio.sh stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A namespace left by an earlier, interrupted run would make the first
# block fail: wait until it is gone.
kc delete namespace backup-demo --ignore-not-found --timeout=3m

printf '%s\n' "$blocks" >"$work/walkthrough.sh"
echo "readme-check: running the '$name' walkthrough ($(grep -c . "$work/walkthrough.sh") lines) from README.md"
bash -euxo pipefail "$work/walkthrough.sh"
echo "readme-check: '$name' walkthrough passed"
