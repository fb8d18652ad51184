#!/usr/bin/env bash
# make test-e2e: end-to-end tests on a real cluster.
#   default: the local cluster (hack/cluster.sh) is started if needed, the
#            images are loaded into it, and it is torn down afterwards if this
#            script started it (E2E_KEEP_CLUSTER=1 keeps it).
#   E2E_USE_EXISTING_CLUSTER=1: use $KUBECONFIG as it is; the images named by
#            OPERATOR_IMAGE / ETCD_IMAGE_REPO must be pullable there.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/versions.sh
OUT=${OUT:-_out}
hack/build-k8s.sh helm
export PATH=$K8S_BIN:$HELM_BIN:$ETCD_BIN:$PATH

if [[ ${E2E_USE_EXISTING_CLUSTER:-} != 1 ]]; then
  started=0
  if ! hack/cluster.sh status >/dev/null 2>&1; then
    started=1
  fi
  if [[ $started == 1 && ${E2E_KEEP_CLUSTER:-} != 1 ]]; then
    trap 'hack/cluster.sh down' EXIT
  fi
  hack/cluster.sh up
  KUBECONFIG=$(hack/cluster.sh kubeconfig)
  export KUBECONFIG
  hack/cluster.sh load-image "$OUT/operator.tar" "$OUT/etcd-server.tar"
fi

OPERATOR_IMAGE_DIGEST=$(sha256sum "$OUT/operator.tar" | cut -c1-16)
export OPERATOR_IMAGE_DIGEST
go test -tags e2e -count=1 -timeout 40m ./test/e2e/ -v -ginkgo.v ${E2E_FLAGS:-}
