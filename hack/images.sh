#!/usr/bin/env bash
# Builds the operator image and the bundled etcd server image as tarballs,
# with no Docker and no registry: static binaries packed by hack/imagebuild.
#
# Usage: [IMAGE_PLATFORMS="linux/amd64 linux/arm64"] \
#          hack/images.sh OUTDIR OPERATOR_IMAGE ETCD_IMAGE [PREV_ETCD_IMAGE]
#
# PREV_ETCD_IMAGE, when given, is the same server built against the previous
# etcd minor (hack/etcd-3.6.mod), written to OUTDIR/etcd-server-prev.tar, for
# upgrade tests.
#
# IMAGE_PLATFORMS unset or empty (make images, the local cluster, CI): one
# linux/amd64 image per tarball, docker-style. Set (make images-multiarch):
# every binary, etcdctl and etcdutl included, is cross-compiled for each
# platform and each tarball is an OCI image layout holding one image index.
set -euo pipefail
out=${1:?OUTDIR} operator_image=${2:?OPERATOR_IMAGE} etcd_image=${3:?ETCD_IMAGE} prev_image=${4:-}
platforms=${IMAGE_PLATFORMS:-}
cd "$(dirname "$0")/.."
source hack/versions.sh
hack/build-k8s.sh etcd >&2   # etcdctl and etcdutl ship in the etcd image

mkdir -p "$out/bin"
export CGO_ENABLED=0
go build -o "$out/bin/imagebuild" ./hack/imagebuild

# gobuild NAME [GO BUILD ARGS...]: builds $bin/NAME for the host, or with
# IMAGE_PLATFORMS $out/bin/linux-ARCH/NAME for each platform.
bin=$out/bin etcd_tools=$ETCD_BIN pflags=()
if [[ -z $platforms ]]; then
  gobuild() { local n=$1; shift; go build "${@:1:$#-1}" -o "$out/bin/$n" "${@: -1}"; }
else
  bin=$out/bin/linux-{arch} etcd_tools=$QUORUM_CACHE/etcd/$ETCD_VERSION-linux-{arch}
  for p in $platforms; do
    [[ $p == linux/* && $p != */*/* ]] || { echo "IMAGE_PLATFORMS: want linux/ARCH, got '$p'" >&2; exit 1; }
    pflags+=(--platform "$p")
  done
  gobuild() {
    local n=$1 p; shift
    for p in $platforms; do
      GOOS=linux GOARCH=${p#linux/} go build "${@:1:$#-1}" -o "$out/bin/linux-${p#linux/}/$n" "${@: -1}"
    done
  }
  # etcdctl and etcdutl per architecture, cached like $ETCD_BIN, from the
  # wrapper modules hack/build-k8s.sh etcd left behind.
  for p in $platforms; do
    d=${etcd_tools//\{arch\}/${p#linux/}}
    for t in etcdctl etcdutl; do
      [[ -x $d/$t ]] && continue
      w=$QUORUM_CACHE/wrappers/$t-$ETCD_VERSION
      [[ -f $w/go.mod ]] || { echo "no $w/go.mod: run hack/build-k8s.sh etcd" >&2; exit 1; }
      echo ">> building $t $ETCD_VERSION for $p" >&2
      (cd "$w" && GOOS=linux GOARCH=${p#linux/} go build -trimpath -ldflags "-s -w" -o "$d/$t" "go.etcd.io/etcd/$t/v3")
    done
  done
fi

gobuild manager -trimpath -ldflags "-s -w" .
gobuild quorum-etcd -trimpath -ldflags "-s -w" ./etcdserver

path=PATH=/usr/local/bin:/usr/bin:/bin
"$out/bin/imagebuild" -o "$out/operator.tar" -t "$operator_image" "${pflags[@]}" \
  --file "$bin/manager:/manager" --entrypoint /manager \
  --user 65532:65532 --env "$path" --label org.opencontainers.image.title=quorum-operator
"$out/bin/imagebuild" -o "$out/etcd-server.tar" -t "$etcd_image" "${pflags[@]}" \
  --file "$bin/quorum-etcd:/usr/local/bin/quorum-etcd" \
  --file "$etcd_tools/etcdctl:/usr/local/bin/etcdctl" \
  --file "$etcd_tools/etcdutl:/usr/local/bin/etcdutl" \
  --entrypoint /usr/local/bin/quorum-etcd --arg serve \
  --dir /tmp:1777 --dir /var/lib/etcd:0775 \
  --user 65532:65532 --env "$path" --label org.opencontainers.image.title=quorum-etcd-server
echo "images${platforms:+ ($platforms)}: $out/operator.tar ($operator_image) $out/etcd-server.tar ($etcd_image)"

if [[ -n $prev_image ]]; then
  gobuild quorum-etcd-prev -tags etcd36 -mod=readonly -modfile=hack/etcd-3.6.mod -trimpath -ldflags "-s -w" ./etcdserver
  "$out/bin/imagebuild" -o "$out/etcd-server-prev.tar" -t "$prev_image" "${pflags[@]}" \
    --file "$bin/quorum-etcd-prev:/usr/local/bin/quorum-etcd" \
    --file "$etcd_tools/etcdctl:/usr/local/bin/etcdctl" \
    --entrypoint /usr/local/bin/quorum-etcd --arg serve \
    --dir /tmp:1777 --dir /var/lib/etcd:0775 \
    --user 65532:65532 --env "$path" --label org.opencontainers.image.title=quorum-etcd-server
  echo "previous-minor image: $out/etcd-server-prev.tar ($prev_image)"
fi
