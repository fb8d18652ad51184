# `hack/cluster.sh up`: a real single-node Kubernetes in its own network
# namespace. Sourced, not run.
# shellcheck shell=bash

# Paths outside $STATE that kubelet, containerd and CNI hard-code. Those that
# do not exist yet are ours: down removes them. In those that do, down removes
# only the entries of our containers.
HOST_PATHS=(/var/lib/kubelet /var/log/containers /var/log/pods /var/lib/cni /run/containerd)
record_host_paths() {
  local p
  : >"$STATE/host-paths-created"
  for p in "${HOST_PATHS[@]}"; do [[ -e $p ]] || echo "$p" >>"$STATE/host-paths-created"; done
}

build_all() {
  "$HACK_DIR/build-k8s.sh" k8s etcd coredns
  log "building pause, provisioner and imagebuild"
  mkdir -p "$STATE/bin" "$STATE/images"
  (cd "$REPO_ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$STATE/bin/" \
    ./hack/pause ./hack/provisioner ./hack/imagebuild) || die "go build of hack tools failed"
  "$STATE/bin/imagebuild" -o "$STATE/images/pause.tar" -t "$PAUSE_IMAGE" \
    --file "$STATE/bin/pause:/pause" --entrypoint /pause --user 65535:65535 || die "pause image build failed"
}

net_up() {
  log "network namespace $NS, veth $HOST_IF($HOST_ADDR) <-> $NODE_IF($NS_ADDR, node $NODE_IP)"
  [[ -e $NETNS ]] || ip netns add "$NS"
  in_ns ip link set lo up
  ip link show "$HOST_IF" >/dev/null 2>&1 ||
    ip link add "$HOST_IF" type veth peer name "$NODE_IF" netns "$NS"
  ip addr replace "$HOST_ADDR/30" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  in_ns ip addr replace "$NS_ADDR/30" dev "$NODE_IF"
  in_ns ip addr replace "$NODE_IP/32" dev "$NODE_IF"
  in_ns ip link set "$NODE_IF" up
  # The host reaches the node, the pods and the Service IPs through the veth;
  # nothing else is routed, and the namespace has no default route at all.
  ip route replace "$NODE_IP/32" via "$NS_ADDR" dev "$HOST_IF"
  ip route replace "$POD_CIDR" via "$NS_ADDR" dev "$HOST_IF"
  ip route replace "$SVC_CIDR" via "$NS_ADDR" dev "$HOST_IF"
  # Service IPs are local to the namespace: kube-proxy's DNAT (PREROUTING for
  # pods and the host, OUTPUT for processes in the namespace such as the API
  # server calling webhooks) picks them up, and an IP with no rule is answered
  # locally instead of being sent anywhere.
  in_ns ip route replace local "$SVC_CIDR" dev lo
  in_ns sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
  if [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || modprobe br_netfilter 2>/dev/null; then
    in_ns sh -c 'echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables' ||
      log "warning: cannot set bridge-nf-call-iptables in the namespace"
  else
    log "warning: br_netfilter not available; hairpin Service traffic may not work"
  fi
}

cgroups_up() {
  local d
  while read -r d; do
    mkdir -p "$d"
    # A new cpuset cgroup starts empty and accepts no task until filled in.
    if [[ -f $d/cpuset.cpus && -z $(tr -d '[:space:]' <"$d/cpuset.cpus") ]]; then
      cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus"
      cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems"
    fi
  done < <(cgroup_dirs)
}

start_containerd() {
  mkdir -p "$STATE/run" "$STATE/containerd"
  start containerd containerd --config "$ETC/containerd.toml"
  wait_for "containerd" 30 containerd ctr --address "$CONTAINERD_SOCK" version
  ctr_ images import "$STATE/images/pause.tar" >/dev/null || die "importing the pause image failed"
}

start_etcd() {
  start etcd "$ETCD_BIN/etcd" --name default --data-dir "$STATE/etcd" \
    --listen-client-urls "http://$ETCD_CLIENT" --advertise-client-urls "http://$ETCD_CLIENT" \
    --listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
    --initial-cluster "default=http://$ETCD_PEER" --unsafe-no-fsync --log-level warn
  wait_for "etcd" 30 etcd in_ns curl -sf "http://$ETCD_CLIENT/health"
}

start_control_plane() {
  start kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers "http://$ETCD_CLIENT" \
    --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
    --cert-dir "$STATE/apiserver" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --token-auth-file "$PKI/tokens.csv" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-cluster-ip-range "$SVC_CIDR" --allow-privileged \
    --kubelet-preferred-address-types InternalIP \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --profiling=false
  # Checked from the host, through the veth, as every user of the cluster will.
  wait_for "kube-apiserver /readyz" 90 kube-apiserver kc get --raw /readyz

  start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$ETC/controller-manager.kubeconfig" \
    --use-service-account-credentials --controllers '*,-nodeipam' \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --leader-elect=false --bind-address 127.0.0.1 --profiling=false
  start kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig "$ETC/scheduler.kubeconfig" --leader-elect=false --bind-address 127.0.0.1 --profiling=false
}

start_node() {
  start kubelet "$K8S_BIN/kubelet" --config "$ETC/kubelet.yaml" \
    --kubeconfig "$ETC/kubelet.kubeconfig" --root-dir "$STATE/kubelet" --cert-dir "$STATE/kubelet/pki" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
  start kube-proxy "$K8S_BIN/kube-proxy" --config "$ETC/kube-proxy.yaml"
  start coredns "$COREDNS_BIN/coredns" -conf "$ETC/Corefile"
  start provisioner "$STATE/bin/provisioner" -kubeconfig "$ETC/provisioner.kubeconfig" \
    -root "$STATE/volumes" -node "$NODE_NAME" -name "$PROVISIONER_NAME"
}

node_ready() {
  [[ $(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

cmd_up() {
  need_root
  local t0=$SECONDS
  if cluster_healthy; then
    log "cluster already running and healthy"
    print_usage
    return 0
  fi
  if [[ -e $STATE || -e $NETNS ]] || ip link show "$HOST_IF" >/dev/null 2>&1; then
    log "found leftovers of an earlier cluster that is not healthy: tearing them down first"
    cmd_down
  fi
  mkdir -p "$STATE" "$PIDS" "$LOGS"
  trap 'log "up failed: logs are in $LOGS (hack/cluster.sh logs COMPONENT); hack/cluster.sh down cleans up"' EXIT
  ensure_packages # first: Debian's containerd package makes /run/containerd
  record_host_paths
  build_all
  gen_pki
  gen_configs
  net_up
  cgroups_up
  start_containerd
  start_etcd
  start_control_plane
  kc apply -f - >/dev/null < <(addons_yaml) || die "applying add-ons failed"
  start_node
  wait_for "node $NODE_NAME Ready" 120 kubelet node_ready
  wait_for "CoreDNS ready" 30 coredns in_ns curl -sf http://127.0.0.1:8181/ready
  wait_for "kube-proxy healthy" 30 kube-proxy in_ns curl -sf http://127.0.0.1:10256/healthz
  wait_for "default ServiceAccount" 60 kube-controller-manager kc get serviceaccount default -n default
  # It checks its permissions first (RBAC may take a moment to see the binding).
  wait_for "provisioner ready" 60 provisioner grep -q ' ready: volumes under ' "$LOGS/provisioner.log"
  trap - EXIT
  log "cluster up in $((SECONDS - t0))s"
  print_usage
}
