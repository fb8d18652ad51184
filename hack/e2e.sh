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
  images=("$OUT/operator.tar" "$OUT/etcd-server.tar")
  [[ -f $OUT/etcd-server-prev.tar ]] && images+=("$OUT/etcd-server-prev.tar")
  hack/cluster.sh load-image "${images[@]}"
  # cert-manager for test/e2e/certmanager_test.go (built once, cached by
  # version), unless a focus leaves that spec out.
  if [[ -z ${E2E_FOCUS:-} || "cert-manager issues the certificates from a CA Issuer; members wait for them and serve renewals without a restart or a lost write" =~ ${E2E_FOCUS} ]]; then
    hack/cert-manager.sh install
  fi
  # The previous release for test/e2e/operator_upgrade_test.go (built once
  # from git, cached by commit), unless the labels or a focus leave it out.
  if [[ ${E2E_LABELS:-!chaos} == '!chaos' ]] && [[ -z ${E2E_FOCUS:-} || "upgrading the operator from the previous release" =~ ${E2E_FOCUS} ]]; then
    rc=0
    E2E_UPGRADE_BASE=$(hack/upgrade-base.sh) || rc=$?
    if [[ $rc == 3 ]]; then
      # No git history to build the previous release from: the spec says so.
      export E2E_UPGRADE_BASE_MISSING="hack/upgrade-base names a commit this clone does not have (a shallow clone): the previous release cannot be built"
    elif [[ $rc != 0 ]]; then
      exit "$rc"
    else
      export E2E_UPGRADE_BASE
      hack/cluster.sh load-image "$E2E_UPGRADE_BASE/operator.tar" "$E2E_UPGRADE_BASE/etcd-server.tar"
    fi
  fi
fi

# The previous etcd minor the upgrade test starts from (see hack/images.sh).
E2E_PREV_ETCD_VERSION=${E2E_PREV_ETCD_VERSION:-$(go list -mod=readonly -modfile=hack/etcd-3.6.mod -m -f '{{.Version}}' go.etcd.io/etcd/server/v3 | sed 's/^v//')}
export E2E_PREV_ETCD_VERSION
OPERATOR_IMAGE_DIGEST=$(sha256sum "$OUT/operator.tar" | cut -c1-16)
export OPERATOR_IMAGE_DIGEST
# A digest of failed specs (test/e2e/failures_test.go), printed last.
E2E_FAILURES_FILE=$(mktemp)
export E2E_FAILURES_FILE
# E2E_LABELS picks specs by Ginkgo label: the reliability suite (label
# "chaos") runs with `make test-chaos`, the rest with `make test-e2e`.
# E2E_PROCS > 1 runs the specs on that many Ginkgo processes (specs marked
# Serial still run alone, at the end). E2E_FOCUS is a regular expression of
# spec names, passed whole (spaces included); a focused run, or one with
# E2E_FLAGS (extra go test -ginkgo.* flags, split on spaces), is one process.
focus=()
[[ -n ${E2E_FOCUS:-} ]] && focus=(-ginkgo.focus="$E2E_FOCUS")
rc=0
if [[ ${E2E_PROCS:-1} -gt 1 && -z ${E2E_FLAGS:-} && -z ${E2E_FOCUS:-} ]]; then
  go tool ginkgo -tags e2e --procs="$E2E_PROCS" --timeout "${E2E_TIMEOUT:-40m}" -v \
    --label-filter="${E2E_LABELS:-!chaos}" ./test/e2e/ || rc=$?
else
  # shellcheck disable=SC2086 # E2E_FLAGS is a list of flags
  go test -tags e2e -count=1 -timeout "${E2E_TIMEOUT:-40m}" ./test/e2e/ -v -ginkgo.v \
    -ginkgo.label-filter="${E2E_LABELS:-!chaos}" "${focus[@]}" ${E2E_FLAGS:-} || rc=$?
fi
if [[ -s $E2E_FAILURES_FILE ]]; then
  echo "== failed specs"
  cat "$E2E_FAILURES_FILE"
fi
rm -f "$E2E_FAILURES_FILE"
exit "$rc"
