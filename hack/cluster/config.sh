# Certificates, kubeconfigs and component configuration for hack/cluster.sh.
# Sourced, not run. Everything is written under $STATE.
# shellcheck shell=bash

gen_pki() {
  [[ -f $PKI/tokens.csv ]] && return 0
  log "generating certificates and tokens"
  mkdir -p "$PKI"
  (
    cd "$PKI" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=quorum-local-ca" 2>/dev/null
    cat >apiserver.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,IP:$API_SVC_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EXT
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    # The API server's client certificate towards kubelets (logs, exec, port-forward).
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >client.ext
    openssl req -newkey rsa:2048 -nodes -keyout apiserver-kubelet-client.key -out apiserver-kubelet-client.csr \
      -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" 2>/dev/null
    openssl x509 -req -in apiserver-kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile client.ext -out apiserver-kubelet-client.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext
    tok() { openssl rand -hex 16; }
    {
      echo "$(tok),admin,admin,system:masters"
      echo "$(tok),system:node:$NODE_NAME,kubelet,system:nodes"
      echo "$(tok),system:kube-controller-manager,kube-controller-manager"
      echo "$(tok),system:kube-scheduler,kube-scheduler"
      echo "$(tok),system:kube-proxy,kube-proxy"
      echo "$(tok),$PROVISIONER_USER,quorum-local-provisioner"
    } >tokens.csv.tmp
    chmod 600 ./*.key tokens.csv.tmp
    mv tokens.csv.tmp tokens.csv
  )
}

# write_kubeconfig FILE USER: a kubeconfig for USER's static token.
write_kubeconfig() {
  local file=$1 user=$2 token
  token=$(awk -F, -v u="$user" '$2 == u {print $1}' "$PKI/tokens.csv")
  [[ -n $token ]] || die "no token for $user"
  cat >"$file" <<KC
apiVersion: v1
kind: Config
clusters:
- name: quorum-local
  cluster:
    server: https://$NODE_IP:$API_PORT
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $user
  user:
    token: $token
contexts:
- name: quorum-local
  context:
    cluster: quorum-local
    user: $user
current-context: quorum-local
KC
  chmod 600 "$file"
}

gen_configs() {
  mkdir -p "$ETC" "$STATE/cni/net.d" "$STATE/cni/networks" "$STATE/kubelet" "$STATE/pod-logs" "$STATE/volumes"
  write_kubeconfig "$KUBECONFIG_FILE" admin
  write_kubeconfig "$ETC/kubelet.kubeconfig" "system:node:$NODE_NAME"
  write_kubeconfig "$ETC/controller-manager.kubeconfig" system:kube-controller-manager
  write_kubeconfig "$ETC/scheduler.kubeconfig" system:kube-scheduler
  write_kubeconfig "$ETC/kube-proxy.kubeconfig" system:kube-proxy
  write_kubeconfig "$ETC/provisioner.kubeconfig" "$PROVISIONER_USER"

  cat >"$ETC/containerd.toml" <<EOF2
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This VM denies negative oom_score_adj (no CAP_SYS_RESOURCE); without this
  # every sandbox fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$STATE/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$STATE/cni/net.d"
EOF2

  cat >"$STATE/cni/net.d/10-quorum.conflist" <<EOF2
{
  "cniVersion": "0.4.0",
  "name": "quorum",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/networks",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "198.18.0.0/15"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF2

  : >"$ETC/resolv.conf" # the kubelet's: pods get only the cluster DNS
  printf 'nameserver %s\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n' \
    "$DNS_IP" >"$ETC/cluster-resolv.conf" # for `cluster.sh exec`

  cat >"$ETC/kubelet.yaml" <<EOF2
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
imageServiceEndpoint: unix://$CONTAINERD_SOCK
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: $ETC/resolv.conf
podCIDR: $POD_CIDR
podLogsDir: $STATE/pod-logs
address: $NODE_IP
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
evictionHard:
  nodefs.available: "1%"
  imagefs.available: "1%"
  memory.available: "100Mi"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
localStorageCapacityIsolation: false
serializeImagePulls: false
maxPods: 110
EOF2

  cat >"$ETC/kube-proxy.yaml" <<EOF2
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
nodePortAddresses: [primary]
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clientConnection:
  kubeconfig: $ETC/kube-proxy.kubeconfig
conntrack:
  maxPerCore: 0
  min: 0
EOF2

  # CoreDNS as a host process in the namespace. No forward plugin: a query
  # never leaves the machine; names outside the cluster get NXDOMAIN.
  cat >"$ETC/Corefile" <<EOF2
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $NODE_IP
    errors
    ready 127.0.0.1:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_FILE
        pods insecure
        ttl 5
    }
}
.:53 {
    bind $NODE_IP
    errors
    template ANY ANY {
        rcode NXDOMAIN
    }
}
EOF2
}

# Cluster add-ons applied once the API server is up: the cluster DNS Service
# (no selector, an EndpointSlice to CoreDNS on the node IP), the permissions of
# hack/provisioner and the two StorageClasses it serves:
# - $STORAGE_CLASS (default): allowVolumeExpansion: true. A bound claim may ask
#   for more storage; the provisioner grows its volume and completes the resize
#   (Resizing condition, allocatedResources, then status.capacity, events
#   Resizing and VolumeResizeSuccessful), as the CSI external-resizer does.
# - $STORAGE_CLASS_FIXED: allowVolumeExpansion: false. The API server's
#   PersistentVolumeClaimResize admission refuses any larger request.
# The provisioner runs with its own identity ($PROVISIONER_USER, a static
# token), not the admin's, so that these rules are exercised; it checks them
# at start (hack/provisioner/access.go lists what it needs).
addons_yaml() {
  cat <<EOF2
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  clusterIP: $DNS_IP
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: cluster-sh.quorum.dev}
addressType: IPv4
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
endpoints:
- addresses: [$NODE_IP]
  conditions: {ready: true}
  nodeName: $NODE_NAME
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: quorum:local-provisioner
rules:
- apiGroups: [""]
  resources: [persistentvolumes]
  verbs: [get, list, watch, create, update, delete]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [persistentvolumeclaims/status]
  verbs: [patch]
- apiGroups: [storage.k8s.io]
  resources: [storageclasses]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: quorum:local-provisioner
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "quorum:local-provisioner"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "$PROVISIONER_USER"}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: $PROVISIONER_NAME
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS_FIXED
provisioner: $PROVISIONER_NAME
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: false
EOF2
}
