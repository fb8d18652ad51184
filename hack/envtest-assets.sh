#!/usr/bin/env bash
# Puts kube-apiserver, etcd and kubectl for envtest into the directory given
# (KUBEBUILDER_ASSETS), building them from the Go module proxy when missing.
# With --min the kube-apiserver is the oldest supported Kubernetes's
# (K8S_MIN_VERSION) and there is no kubectl: the suites run against it
# (`make test-k8s-min`) use none.
#
# Usage: hack/envtest-assets.sh [--min] DIR
set -euo pipefail
min=0
if [[ ${1:-} == --min ]]; then min=1; shift; fi
dir=${1:?usage: envtest-assets.sh [--min] DIR}
here=$(dirname "$0")
source "$here/versions.sh"
mkdir -p "$dir"
if [[ $min == 1 ]]; then
  "$here/build-k8s.sh" k8s-min etcd
  ln -sf "$K8S_MIN_BIN/kube-apiserver" "$dir/kube-apiserver"
else
  "$here/build-k8s.sh" k8s etcd
  ln -sf "$K8S_BIN/kube-apiserver" "$dir/kube-apiserver"
  ln -sf "$K8S_BIN/kubectl" "$dir/kubectl"
fi
ln -sf "$ETCD_BIN/etcd" "$dir/etcd"
