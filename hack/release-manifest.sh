#!/usr/bin/env bash
# Writes the versioned install manifest of this Quorum release:
#   hack/release-manifest.sh [OUT]   (default _out/quorum-operator-<version>.yaml)
# It is `kubectl kustomize config/default` (the CRDs, RBAC and the operator
# in namespace quorum-system; the same operator as the Helm chart, see
# test/helm/kustomize_test.go) with the operator image pinned to this
# release (internal/version). Users install and upgrade with
#   kubectl apply --server-side -f quorum-operator-<version>.yaml
# (server-side: the CRDs are larger than client-side apply's annotation).
# KUBECTL names the kubectl binary (default: envtest's, `make envtest-assets`).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/versions.sh
version=$(sed -n 's/^var Version = "\(.*\)"/\1/p' internal/version/version.go)
[[ -n $version ]] || { echo "no version in internal/version/version.go" >&2; exit 1; }
out=${1:-_out/quorum-operator-$version.yaml}
kubectl=${KUBECTL:-$QUORUM_CACHE/envtest/$K8S_VERSION/kubectl}
mkdir -p "$(dirname "$out")"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  echo "# Quorum $version install manifest: CRDs, RBAC and the operator (namespace quorum-system)."
  echo "# Install or upgrade: kubectl apply --server-side -f $(basename "$out")"
  echo "# Built by hack/release-manifest.sh from config/default; do not edit."
  "$kubectl" kustomize config/default |
    sed "s#image: quorum.dev/etcd-operator:.*#image: quorum.dev/etcd-operator:$version#"
} > "$tmp"
# mktemp makes the file 0600; a release asset is read by everyone.
chmod 0644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
