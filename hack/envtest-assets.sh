#!/usr/bin/env bash
# Puts kube-apiserver, etcd and kubectl for envtest into the directory given
# (KUBEBUILDER_ASSETS), building them from the Go module proxy when missing.
set -euo pipefail
dir=${1:?usage: envtest-assets.sh DIR}
here=$(dirname "$0")
source "$here/versions.sh"
"$here/build-k8s.sh" k8s etcd
mkdir -p "$dir"
ln -sf "$K8S_BIN/kube-apiserver" "$dir/kube-apiserver"
ln -sf "$K8S_BIN/kubectl" "$dir/kubectl"
ln -sf "$ETCD_BIN/etcd" "$dir/etcd"
