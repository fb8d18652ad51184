#!/usr/bin/env bash
# Builds the Kubernetes binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, kubectl), the oldest supported
# Kubernetes's kube-apiserver (k8s-min), etcd, etcdctl, CoreDNS, helm,
# MinIO, promtool and AWS's EC2 metadata mock from the Go module proxy,
# cached by version outside git. Prints nothing but progress; a second run
# costs nothing.
#
# Usage: hack/build-k8s.sh [k8s|k8s-min|etcd|coredns|helm|minio|promtool|aemm|all]...
set -euo pipefail
source "$(dirname "$0")/versions.sh"

# tools_go PKG...: prints a tools.go that imports PKGs, so that a wrapper
# module's go mod tidy requires what building them needs.
tools_go() {
  echo '//go:build tools'; echo; echo 'package tools'; echo; echo 'import ('
  for p in "$@"; do echo "	_ \"$p\""; done
  echo ')'
}

# build_kube VERSION OUTDIR COMMAND...: builds the named Kubernetes commands
# (kube-apiserver, kubectl, ...) of VERSION into OUTDIR through a wrapper
# module whose replace directives pin each staging module (k8s.io/api, ...)
# to v0.<minor>.<patch>, as k8s.io/kubernetes's own go.mod points them at
# ./staging. Nothing is built when every command is already there.
build_kube() {
  local ver=$1 out=$2; shift 2
  local bins=("$@") missing=0
  for b in "${bins[@]}"; do [[ -x "$out/$b" ]] || missing=1; done
  [[ $missing == 0 ]] && return 0
  echo ">> building Kubernetes $ver (${bins[*]}) into $out (several minutes on a cold cache)"
  local w="$QUORUM_CACHE/wrappers/k8s-$ver"
  mkdir -p "$w" "$out"
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$ver" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  local minor="${ver#v1.}"
  {
    echo "module quorum.dev/k8s-wrapper"
    echo
    echo "go 1.25"
    echo
    echo "require k8s.io/kubernetes $ver"
    echo
    echo "replace ("
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#\t\1 => \1 v0.'"$minor"'#p' "$gomod"
    echo ")"
  } > "$w/go.mod"
  local pkgs=()
  for b in "${bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  tools_go "${pkgs[@]}" > "$w/tools.go"
  (cd "$w" && go mod tidy -e >/dev/null 2>&1 || true)
  (cd "$w" && go mod tidy)
  local major=1 mnr="${minor%%.*}"
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$ver -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$mnr -X k8s.io/client-go/pkg/version.gitVersion=$ver"
  (cd "$w" && CGO_ENABLED=0 go build -tags tools -trimpath -ldflags "$ld" -o "$out/" "${pkgs[@]}")
}

build_k8s() {
  build_kube "$K8S_VERSION" "$K8S_BIN" \
    kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl
}

# The oldest supported Kubernetes: only kube-apiserver, for envtest (the
# admission and controller suites need no kubectl; etcd is ETCD_VERSION's).
build_k8s_min() {
  build_kube "$K8S_MIN_VERSION" "$K8S_MIN_BIN" kube-apiserver
}

# wrapper_build NAME MODULE VERSION OUTDIR PKG...: builds PKGs of MODULE@VERSION
# through a throwaway module (so replace directives of MODULE are not needed),
# adding WRAPPER_LDFLAGS to the linker flags.
wrapper_build() {
  local name=$1 mod=$2 ver=$3 out=$4; shift 4
  local w="$QUORUM_CACHE/wrappers/$name-$ver"
  mkdir -p "$w" "$out"
  printf 'module quorum.dev/%s-wrapper\n\ngo 1.25\n\nrequire %s %s\n' "$name" "$mod" "$ver" > "$w/go.mod"
  tools_go "$@" > "$w/tools.go"
  # -e: some modules' own tools.go files import programs, which tidy reports.
  (cd "$w" && go mod tidy -e)
  (cd "$w" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w ${WRAPPER_LDFLAGS:-}" -o "$out/" "$@")
}

build_etcd() {
  [[ -x "$ETCD_BIN/etcd" && -x "$ETCD_BIN/etcdctl" && -x "$ETCD_BIN/etcdutl" ]] && return 0
  echo ">> building etcd $ETCD_VERSION"
  wrapper_build etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$ETCD_BIN" go.etcd.io/etcd/server/v3
  mv "$ETCD_BIN/server" "$ETCD_BIN/etcd"
  wrapper_build etcdctl go.etcd.io/etcd/etcdctl/v3 "$ETCD_VERSION" "$ETCD_BIN" go.etcd.io/etcd/etcdctl/v3
  wrapper_build etcdutl go.etcd.io/etcd/etcdutl/v3 "$ETCD_VERSION" "$ETCD_BIN" go.etcd.io/etcd/etcdutl/v3
}

build_coredns() {
  [[ -x "$COREDNS_BIN/coredns" ]] && return 0
  echo ">> building CoreDNS $COREDNS_VERSION"
  wrapper_build coredns github.com/coredns/coredns "$COREDNS_VERSION" "$COREDNS_BIN" github.com/coredns/coredns
}

# As helm's own Makefile does, the Kubernetes version helm assumes when no
# cluster tells it (`helm template`, `helm lint`) is its client-go's (v0.N:
# 1.N); helm's built-in default, 1.20, is older than the chart's kubeVersion.
# The marker file tells a helm built so from one built before.
build_helm() {
  [[ -x "$HELM_BIN/helm" && -f "$HELM_BIN/kube-version" ]] && return 0
  echo ">> building helm $HELM_VERSION"
  local gomod minor
  gomod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  minor=$(sed -n 's#^\s*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$gomod")
  [[ -n $minor ]] || { echo "no k8s.io/client-go in helm $HELM_VERSION's go.mod" >&2; return 1; }
  local p kv=""
  for p in chartutil lint/rules; do
    kv+=" -X helm.sh/helm/v3/pkg/$p.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/$p.k8sVersionMinor=$minor"
  done
  WRAPPER_LDFLAGS="$kv" wrapper_build helm helm.sh/helm/v3 "$HELM_VERSION" "$HELM_BIN" helm.sh/helm/v3/cmd/helm
  echo "v1.$minor.0" > "$HELM_BIN/kube-version"
}

build_minio() {
  [[ -x "$MINIO_BIN/minio" ]] && return 0
  echo ">> building MinIO $MINIO_VERSION"
  wrapper_build minio github.com/minio/minio "$MINIO_VERSION" "$MINIO_BIN" github.com/minio/minio
}

# promtool checks and unit-tests the alert rules (charts/quorum-operator/rules,
# test/monitoring).
build_promtool() {
  [[ -x "$PROMTOOL_BIN/promtool" ]] && return 0
  echo ">> building promtool $PROMETHEUS_VERSION"
  wrapper_build promtool github.com/prometheus/prometheus "$PROMETHEUS_VERSION" "$PROMTOOL_BIN" \
    github.com/prometheus/prometheus/cmd/promtool
}

# aemm (amazon-ec2-metadata-mock) serves the EC2 instance metadata API, IMDSv2
# tokens included, with the IAM role credentials the instance-role S3 tests
# give it (etcdserver/backup/s3test/imds.go).
build_aemm() {
  [[ -x "$AEMM_BIN/ec2-metadata-mock" ]] && return 0
  echo ">> building amazon-ec2-metadata-mock $AEMM_VERSION"
  wrapper_build aemm github.com/aws/amazon-ec2-metadata-mock "$AEMM_VERSION" "$AEMM_BIN" \
    github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock
}

targets=("$@")
[[ ${#targets[@]} == 0 ]] && targets=(all)
for t in "${targets[@]}"; do
  case $t in
    k8s) build_k8s ;;
    k8s-min) build_k8s_min ;;
    etcd) build_etcd ;;
    coredns) build_coredns ;;
    helm) build_helm ;;
    minio) build_minio ;;
    promtool) build_promtool ;;
    aemm) build_aemm ;;
    all) build_k8s; build_etcd; build_coredns; build_helm ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
done
