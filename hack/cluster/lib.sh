# Shared settings and helpers for hack/cluster.sh. Sourced, not run.
# shellcheck shell=bash

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(cd "$HACK_DIR/.." && pwd)
# shellcheck source=../versions.sh
source "$HACK_DIR/versions.sh"
command -v go >/dev/null || PATH=/usr/local/go/bin:$PATH

STATE=${QUORUM_STATE:-/var/tmp/quorum-local}
NS=quorum                    # network namespace the node lives in
NETNS=/var/run/netns/$NS
CGROUP=quorum                # kubelet cgroupRoot (cgroup v1 hierarchies)
HOST_IF=qk-host              # veth end on the host
NODE_IF=qk-node              # veth end inside the namespace
HOST_ADDR=198.18.254.1       # /30 with NS_ADDR
NS_ADDR=198.18.254.2
NODE_IP=198.18.255.1         # node IP, API server, CoreDNS
NODE_NAME=node1
POD_CIDR=198.18.0.0/24
SVC_CIDR=198.19.0.0/16
API_SVC_IP=198.19.0.1
DNS_IP=198.19.0.10
API_PORT=6443
ETCD_CLIENT=127.0.0.1:12379  # the API server's etcd, loopback of the namespace
ETCD_PEER=127.0.0.1:12380
# Both StorageClasses are served by hack/provisioner: the default one lets
# claims grow (allowVolumeExpansion: true), the fixed one does not, so that
# tests can see the API server refuse a resize.
STORAGE_CLASS=standard
STORAGE_CLASS_FIXED=quorum-local-fixed
PROVISIONER_NAME=quorum.dev/local-hostpath
PROVISIONER_USER=quorum:local-provisioner # its static-token identity, bound to the ClusterRole of the same name
PAUSE_IMAGE=registry.k8s.io/pause:3.10.1

KUBECONFIG_FILE=$STATE/kubeconfig
CONTAINERD_SOCK=$STATE/run/containerd.sock
PIDS=$STATE/pids
LOGS=$STATE/logs
PKI=$STATE/pki
ETC=$STATE/etc

# Components in start order; down stops them in reverse.
COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy coredns provisioner)

APT_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack util-linux iproute2 openssl curl)
CNI_BIN_DIR=/usr/lib/cni

log() { printf '%s [cluster] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# in_ns CMD...: runs CMD in the node's network namespace. nsenter, not
# `ip netns exec`, which remounts /sys and hides /sys/fs/cgroup.
in_ns() { nsenter --net="$NETNS" -- "$@"; }

kc() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }
ctr_() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }

need_root() { [[ $(id -u) == 0 ]] || die "must run as root (network namespaces, mounts, cgroups)"; }

ensure_packages() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} == 0 ]] && return 0
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >"$STATE/apt.log" 2>&1 || {
    apt-get update >>"$STATE/apt.log" 2>&1
    apt-get install -y --no-install-recommends "${missing[@]}" >>"$STATE/apt.log" 2>&1
  } || { tail -20 "$STATE/apt.log" >&2; die "apt-get install failed"; }
  # Debian's containerd package starts the system containerd; we run our own
  # and leave that one alone.
}

pid_of() { [[ -f $PIDS/$1 ]] && cat "$PIDS/$1"; }
# ours PID: the process exists and is one of ours (every daemon's command line
# names a path under $STATE), so a stale PID file never hits a reused PID.
ours() { [[ -n $1 ]] && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF "$STATE/"; }
alive() { local p; p=$(pid_of "$1") && ours "$p"; }

# start NAME CMD...: starts a daemon inside the namespace in its own session,
# logging to logs/NAME.log and recording its PID in pids/NAME. nsenter and
# setsid both exec, so the recorded PID is the daemon's own.
# The daemon outlives this script, so it gets none of the caller's other open
# files: one of them may be a lock (flock) that must be released when the
# caller ends, not when the cluster stops.
start() {
  local name=$1; shift
  log "starting $name"
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec nsenter --net="$NETNS" -- setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1
  ) &
  echo $! >"$PIDS/$name"
}

# wait_for WHAT SECONDS COMPONENT CMD...: polls CMD once a second until it
# succeeds; on timeout prints the tail of the component's log and fails.
wait_for() {
  local what=$1 secs=$2 comp=$3; shift 3
  local i
  for ((i = 0; i < secs; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [[ -n $comp ]] && ! alive "$comp"; then
      log "$comp exited; last lines of $LOGS/$comp.log:"; tail -25 "$LOGS/$comp.log" >&2
      die "$what: $comp is not running"
    fi
    sleep 1
  done
  if [[ -n $comp ]]; then
    log "last lines of $LOGS/$comp.log:"; tail -25 "$LOGS/$comp.log" >&2
  fi
  die "timed out after ${secs}s waiting for $what"
}

# stop_pids GRACE PID...: SIGTERM, wait up to GRACE seconds, then SIGKILL.
stop_pids() {
  local grace=$1 i p left; shift
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < grace * 5; i++)); do
    left=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) != Z ]] && left=1; done
    [[ $left == 0 ]] && return 0
    sleep 0.2
  done
  log "still running after ${grace}s, sending SIGKILL: $*"
  kill -KILL "$@" 2>/dev/null || true
  sleep 0.2
}

# cgroup_dirs: our cgroup directory in every cgroup v1 hierarchy (and the
# unified one when it is mounted).
cgroup_dirs() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [[ -f $h/cgroup.procs ]] && echo "${h%/}/$CGROUP"
  done
}

cluster_healthy() {
  local c
  for c in "${COMPONENTS[@]}"; do alive "$c" || return 1; done
  [[ -f $KUBECONFIG_FILE ]] || return 1
  kc get --raw /readyz >/dev/null 2>&1 || return 1
  [[ $(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}
