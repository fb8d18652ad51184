#!/usr/bin/env bash
# Builds the operator image and the bundled etcd server image as tarballs,
# with no Docker and no registry: static binaries packed by hack/imagebuild.
#
# Usage: hack/images.sh OUTDIR OPERATOR_IMAGE ETCD_IMAGE [PREV_ETCD_IMAGE]
#
# PREV_ETCD_IMAGE, when given, is the same server built against the previous
# etcd minor (hack/etcd-3.6.mod), written to OUTDIR/etcd-server-prev.tar, for
# upgrade tests.
set -euo pipefail
out=${1:?OUTDIR} operator_image=${2:?OPERATOR_IMAGE} etcd_image=${3:?ETCD_IMAGE} prev_image=${4:-}
cd "$(dirname "$0")/.."
source hack/versions.sh
hack/build-k8s.sh etcd >&2   # etcdctl and etcdutl ship in the etcd image

mkdir -p "$out/bin"
export CGO_ENABLED=0
go build -trimpath -ldflags "-s -w" -o "$out/bin/manager" .
go build -trimpath -ldflags "-s -w" -o "$out/bin/quorum-etcd" ./etcdserver
go build -o "$out/bin/imagebuild" ./hack/imagebuild

path=PATH=/usr/local/bin:/usr/bin:/bin
"$out/bin/imagebuild" -o "$out/operator.tar" -t "$operator_image" \
  --file "$out/bin/manager:/manager" --entrypoint /manager \
  --user 65532:65532 --env "$path" --label org.opencontainers.image.title=quorum-operator
"$out/bin/imagebuild" -o "$out/etcd-server.tar" -t "$etcd_image" \
  --file "$out/bin/quorum-etcd:/usr/local/bin/quorum-etcd" \
  --file "$ETCD_BIN/etcdctl:/usr/local/bin/etcdctl" \
  --file "$ETCD_BIN/etcdutl:/usr/local/bin/etcdutl" \
  --entrypoint /usr/local/bin/quorum-etcd --arg serve \
  --dir /tmp:1777 --dir /var/lib/etcd:0775 \
  --user 65532:65532 --env "$path" --label org.opencontainers.image.title=quorum-etcd-server
echo "images: $out/operator.tar ($operator_image) $out/etcd-server.tar ($etcd_image)"

if [[ -n $prev_image ]]; then
  go build -tags etcd36 -mod=readonly -modfile=hack/etcd-3.6.mod -trimpath -ldflags "-s -w" -o "$out/bin/quorum-etcd-prev" ./etcdserver
  "$out/bin/imagebuild" -o "$out/etcd-server-prev.tar" -t "$prev_image" \
    --file "$out/bin/quorum-etcd-prev:/usr/local/bin/quorum-etcd" \
    --file "$ETCD_BIN/etcdctl:/usr/local/bin/etcdctl" \
    --entrypoint /usr/local/bin/quorum-etcd --arg serve \
    --dir /tmp:1777 --dir /var/lib/etcd:0775 \
    --user 65532:65532 --env "$path" --label org.opencontainers.image.title=quorum-etcd-server
  echo "previous-minor image: $out/etcd-server-prev.tar ($prev_image)"
fi
