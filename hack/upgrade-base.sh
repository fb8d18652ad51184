#!/usr/bin/env bash
# Builds the previous release the operator upgrade e2e starts from (the
# commit in hack/upgrade-base): its operator and server images as tarballs
# and its Helm chart, from this clone's git history, cached by commit under
# $QUORUM_CACHE/upgrade-base/<commit>. Prints that directory last; it holds
#   operator.tar      quorum.dev/etcd-operator:upgrade-base-<commit 12>
#   etcd-server.tar   the release's server image, under the tag that
#                     release's operator asks for
#   chart/            the release's chart
#   operator-tag      the operator image's tag
#
# Exits 3 when the commit is not in this clone and cannot be fetched.
#
# Usage: hack/upgrade-base.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/versions.sh
commit=$(grep -v '^#' hack/upgrade-base | head -n1 | tr -d '[:space:]')
dir=$QUORUM_CACHE/upgrade-base/$commit
if [[ -f $dir/operator-tag ]]; then
  echo "$dir"
  exit 0
fi
if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
  # A shallow clone: fetch that one commit from the remote, if there is one.
  remote=$(git remote | head -n1)
  [[ -n $remote ]] && git fetch --quiet --depth=1 "$remote" "$commit" 2>/dev/null || true
fi
if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
  echo "hack/upgrade-base names $commit, which this clone does not have (a shallow clone?): git fetch --unshallow" >&2
  exit 3
fi
echo ">> building the upgrade base $commit into $dir" >&2
src=$(mktemp -d)
trap 'rm -rf "$src" "$dir.tmp"' EXIT
git archive "$commit" | tar -x -C "$src"
tag=upgrade-base-${commit:0:12}
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
# That release's own Makefile and scripts, with its default server image
# tag (the one its operator asks for) and no previous-minor image.
make -C "$src" images OUT="$dir.tmp" OPERATOR_IMAGE="quorum.dev/etcd-operator:$tag" ETCD_PREV_IMAGE= >&2
rm -rf "$dir.tmp/bin"
cp -r "$src/charts/quorum-operator" "$dir.tmp/chart"
echo "$tag" > "$dir.tmp/operator-tag"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "$dir"
