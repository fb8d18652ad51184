# `hack/cluster.sh down`: stops everything `up` started and removes what it
# made. Works on a half-started cluster and when nothing is there.
# Sourced, not run.
# shellcheck shell=bash

# stop_components NAME...: stops those components together.
stop_components() {
  local name pid pids=() names=()
  for name in "$@"; do
    pid=$(pid_of "$name") || continue
    if ours "$pid"; then pids+=("$pid"); names+=("$name"); fi
    rm -f "$PIDS/$name"
  done
  [[ ${#pids[@]} == 0 ]] && return 0
  log "stopping ${names[*]}"
  stop_pids 20 "${pids[@]}"
}

# kill_containers: SIGKILLs every task of our containerd and deletes it.
kill_containers() {
  alive containerd || return 0
  local ids id
  ids=$(ctr_ tasks ls -q 2>/dev/null || true)
  [[ -z $ids ]] && return 0
  log "killing $(wc -w <<<"$ids") container task(s)"
  for id in $ids; do ctr_ tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true; done
  for _ in $(seq 1 20); do
    [[ -z $(ctr_ tasks ls 2>/dev/null | awk 'NR > 1 && $3 != "STOPPED"') ]] && break
    sleep 0.5
  done
  for id in $ids; do ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true; done
}

# pod_netns: the network namespaces of our pods (CRI makes them under
# /var/run/netns). From containerd when it runs; otherwise those whose eth0
# has an address in our pod CIDR, which nothing else on the machine uses.
pod_netns() {
  local id f
  if alive containerd; then
    ctr_ containers ls -q 2>/dev/null | while read -r id; do
      ctr_ containers info "$id" 2>/dev/null | grep -o '/var/run/netns/cni-[0-9a-f-]*' || true
    done | sort -u
    return 0
  fi
  for f in /var/run/netns/cni-*; do
    [[ -e $f ]] || continue
    ip -n "$(basename "$f")" -4 -o addr show dev eth0 2>/dev/null | grep -q " ${POD_CIDR%.*}\." && echo "$f"
  done
  return 0
}

# container_ids: IDs of every container and sandbox our containerd knows.
container_ids() {
  local d=$STATE/containerd/root/io.containerd.grpc.v1.cri
  ls "$d/containers" "$d/sandboxes" 2>/dev/null | grep -E '^[0-9a-f]{64}$' || true
}

# clean_host_paths: removes what kubelet, containerd and CNI left outside
# $STATE (see record_host_paths in up.sh).
clean_host_paths() {
  local p id
  for id in $(container_ids); do
    rm -f /var/log/containers/*"-$id.log" /var/lib/cni/results/*"-$id-"* 2>/dev/null || true
  done
  [[ -f $STATE/host-paths-created ]] || return 0
  while read -r p; do
    [[ -n $p && -e $p ]] || continue
    awk -v s="$p/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf "$p"
  done <"$STATE/host-paths-created"
}

# kill_stragglers: processes left in our kubelet cgroup (pod processes) and
# shims of our containerd, found by its socket path on their command line.
kill_stragglers() {
  local pids=() d p cmd
  while read -r d; do
    [[ -d $d ]] || continue
    while read -r p; do [[ -n $p ]] && pids+=("$p"); done < <(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)
  done < <(cgroup_dirs)
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    [[ $cmd == *containerd-shim*"-address $CONTAINERD_SOCK "* ]] && pids+=("${p#/proc/}")
  done
  [[ ${#pids[@]} == 0 ]] && return 0
  mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
  log "killing ${#pids[@]} leftover process(es) of the cluster: ${pids[*]}"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  sleep 0.5
}

unmount_state() {
  local mp n=0
  [[ -d $STATE ]] || return 0
  # Deepest first. Mount points are field 5 of mountinfo.
  while read -r mp; do
    umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || log "warning: cannot unmount $mp"
    n=$((n + 1))
  done < <(awk -v s="$STATE/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r)
  [[ $n == 0 ]] || log "unmounted $n mount(s) under $STATE"
}

net_down() {
  local f
  if [[ -f $STATE/pod-netns.list ]]; then
    while read -r f; do
      [[ -e $f ]] || continue
      umount "$f" 2>/dev/null || umount -l "$f" 2>/dev/null || true
      rm -f "$f"
    done <"$STATE/pod-netns.list"
    rm -f "$STATE/pod-netns.list"
  fi
  if [[ -e $NETNS ]]; then
    log "removing network namespace $NS"
    ip netns del "$NS" 2>/dev/null || { umount -l "$NETNS" 2>/dev/null; rm -f "$NETNS"; }
  fi
  if ip link show "$HOST_IF" >/dev/null 2>&1; then
    ip link del "$HOST_IF" 2>/dev/null || true
  fi
  # Routes went with the veth; these are no-ops unless something re-added them.
  ip route del "$NODE_IP/32" 2>/dev/null || true
  ip route del "$POD_CIDR" 2>/dev/null || true
  ip route del "$SVC_CIDR" 2>/dev/null || true
}

cgroups_down() {
  local d
  while read -r d; do
    [[ -d $d ]] || continue
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null ||
      log "warning: could not remove cgroup $d (processes still in it?)"
  done < <(cgroup_dirs)
}

cmd_down() {
  need_root
  if [[ ! -e $STATE && ! -e $NETNS ]] && ! ip link show "$HOST_IF" >/dev/null 2>&1; then
    log "nothing to tear down"
    return 0
  fi
  mkdir -p "$PIDS"
  stop_components kubelet # first, so it restarts nothing
  [[ -d $STATE ]] && pod_netns >"$STATE/pod-netns.list"
  kill_containers
  stop_components provisioner coredns kube-proxy kube-scheduler kube-controller-manager
  stop_components kube-apiserver
  stop_components etcd containerd
  kill_stragglers
  unmount_state
  net_down
  cgroups_down
  unmount_state
  clean_host_paths
  rm -rf "$STATE"
  log "cluster down; $STATE removed"
}
