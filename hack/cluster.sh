#!/usr/bin/env bash
# A real single-node Kubernetes cluster for tests, isolated in its own network
# namespace: containerd + runc, etcd, kube-apiserver, controller-manager,
# scheduler, kubelet, kube-proxy, CoreDNS and a hostPath PV provisioner, all
# built from source and run as processes of this machine. No registry: images
# are built with hack/imagebuild and loaded with `load-image`.
#
# Usage: hack/cluster.sh up|down|status|kubeconfig|load-image TAR...|exec -- CMD...|logs [COMPONENT] [-f]|smoke|resize-smoke
set -euo pipefail

source "$(dirname "$0")/cluster/lib.sh"
source "$HACK_DIR/cluster/config.sh"
source "$HACK_DIR/cluster/up.sh"
source "$HACK_DIR/cluster/down.sh"
source "$HACK_DIR/cluster/smoke.sh"
source "$HACK_DIR/cluster/resize-smoke.sh"

case $STATE in
  /*/*) ;;
  *) die "QUORUM_STATE must be an absolute path below a directory, got '$STATE'" ;;
esac

usage() {
  cat <<USAGE
Usage: hack/cluster.sh COMMAND

  up                 start the cluster (idempotent; builds what it needs first)
  down               stop everything and remove the state directory (idempotent)
  status             components, API server and node status
  kubeconfig         print the admin kubeconfig path
  load-image TAR...  import image tarballs (hack/imagebuild output) into the node
  exec -- CMD...     run CMD in the node's network namespace with cluster DNS
                     (e.g. exec -- getent hosts kubernetes.default.svc.cluster.local)
  logs [COMP] [-f]   show a component's log (no COMP: list the logs)
  smoke              check the running cluster end to end (pods, volumes, DNS,
                     logs, exec, host access to pod and Service IPs)
  resize-smoke       check volume expansion: a claim of '$STORAGE_CLASS' grows
                     from 1Gi to 2Gi through hack/provisioner; growing one of
                     '$STORAGE_CLASS_FIXED' is refused by the API server

State: \$QUORUM_STATE (now $STATE). Components: ${COMPONENTS[*]}
USAGE
}

print_usage() {
  cat <<USAGE

Cluster is up (node $NODE_NAME, Kubernetes $K8S_VERSION).
  export KUBECONFIG=$KUBECONFIG_FILE
  export PATH=$K8S_BIN:\$PATH           # kubectl
  kubectl get nodes
API server https://$NODE_IP:$API_PORT, reachable from the host like pod IPs
($POD_CIDR) and Service IPs ($SVC_CIDR). Cluster DNS $DNS_IP; from the host use
  hack/cluster.sh exec -- getent hosts kubernetes.default.svc.cluster.local
Images: build with hack/imagebuild, load with hack/cluster.sh load-image IMG.tar,
use imagePullPolicy: Never (or IfNotPresent with a non-latest tag).
StorageClasses (hostPath under $STATE/volumes, served by hack/provisioner):
  '$STORAGE_CLASS' (default) allowVolumeExpansion: true, claims may grow;
  '$STORAGE_CLASS_FIXED' allowVolumeExpansion: false, a larger request is refused.
Stop with: hack/cluster.sh down
USAGE
}

cmd_status() {
  local c pid rc=0
  if [[ ! -d $STATE ]]; then echo "cluster is down (no $STATE)"; return 1; fi
  for c in "${COMPONENTS[@]}"; do
    pid=$(pid_of "$c" || true)
    if alive "$c"; then printf '%-24s running  pid %s\n' "$c" "$pid"
    else printf '%-24s STOPPED\n' "$c"; rc=1; fi
  done
  if kc get --raw /readyz >/dev/null 2>&1; then
    echo "api server               https://$NODE_IP:$API_PORT ready"
    kc get nodes -o wide || rc=1
    node_ready || rc=1
  else
    echo "api server               NOT READY"; rc=1
  fi
  echo "kubeconfig               $KUBECONFIG_FILE"
  return $rc
}

cmd_load_image() {
  [[ $# -gt 0 ]] || die "usage: hack/cluster.sh load-image IMAGE.tar..."
  alive containerd || die "cluster is not running"
  local t
  for t in "$@"; do
    [[ -f $t ]] || die "no such file: $t"
    ctr_ images import "$t" || die "import of $t failed"
  done
}

cmd_exec() {
  [[ ${1:-} == -- ]] && shift
  [[ $# -gt 0 ]] || die "usage: hack/cluster.sh exec -- CMD..."
  [[ -e $NETNS ]] || die "cluster is not running"
  # A private mount namespace, so that /etc/resolv.conf can point at the
  # cluster DNS for CMD only.
  PATH="$ETCD_BIN:$K8S_BIN:$PATH" KUBECONFIG="$KUBECONFIG_FILE" \
    nsenter --net="$NETNS" -- unshare --mount --propagation private -- \
    sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$ETC/cluster-resolv.conf" "$@"
}

cmd_logs() {
  local comp=${1:-} follow=()
  [[ ${2:-} == -f || ${1:-} == -f ]] && follow=(-f)
  [[ $comp == -f ]] && comp=${2:-}
  if [[ -z $comp ]]; then
    ls -l "$LOGS" 2>/dev/null || die "no logs (cluster down?)"
    return 0
  fi
  [[ -f $LOGS/$comp.log ]] || die "no log for '$comp'; components: ${COMPONENTS[*]}"
  tail -n "${LOG_LINES:-200}" "${follow[@]}" "$LOGS/$comp.log"
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  kubeconfig) echo "$KUBECONFIG_FILE" ;;
  load-image) cmd_load_image "$@" ;;
  exec) cmd_exec "$@" ;;
  logs) cmd_logs "$@" ;;
  smoke) cmd_smoke ;;
  resize-smoke) cmd_resize_smoke ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
