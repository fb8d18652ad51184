#!/usr/bin/env bash
# make demo: a local Kubernetes cluster, the operator installed with its Helm
# chart, and a 3-member TLS etcd cluster from config/samples, ready to use.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/versions.sh
export PATH=$K8S_BIN:$HELM_BIN:$PATH
OUT=${OUT:-_out}
ns=quorum-system

step() { printf '\n==> %s\n' "$*"; }

step "starting the local Kubernetes cluster (first run builds Kubernetes from source: ~10 min)"
hack/cluster.sh up
KUBECONFIG=$(hack/cluster.sh kubeconfig)
export KUBECONFIG
hack/build-k8s.sh helm

step "loading the operator and etcd server images into the node"
hack/cluster.sh load-image "$OUT/operator.tar" "$OUT/etcd-server.tar"

step "installing the operator with Helm"
# The chart creates and upgrades the CRDs. CRDs applied without Helm (by an
# older demo, or kubectl apply) are adopted first: README's one-time step.
crds=$(kubectl get crd -o name | grep '\.etcd\.quorum\.dev$' || true)
if [ -n "$crds" ]; then
  kubectl label $crds app.kubernetes.io/managed-by=Helm --overwrite
  kubectl annotate $crds meta.helm.sh/release-name=quorum-operator meta.helm.sh/release-namespace="$ns" --overwrite
fi
# The image tag stays the same between builds: the digest annotation rolls
# the operator when a rebuilt image was loaded.
digest=$(sha256sum "$OUT/operator.tar" | cut -c1-16)
helm upgrade --install quorum-operator charts/quorum-operator --namespace "$ns" --create-namespace \
  --set-string "podAnnotations.quorum\.dev/image-digest=$digest" --wait --timeout 3m

step "creating the EtcdCluster 'demo' (config/samples)"
kubectl apply -f config/samples/etcd_v1alpha1_etcdcluster.yaml
if ! kubectl wait etcdcluster/demo --for=condition=Available --timeout=5m; then
  kubectl get etcdcluster demo -o yaml; kubectl get pods -o wide
  kubectl -n "$ns" logs deploy/quorum-operator --tail 50 || true
  exit 1
fi
# Available means a healthy quorum; the demo goes on once every member is.
kubectl wait etcdcluster/demo --for=jsonpath='{.status.readyReplicas}'=3 --timeout=3m
kubectl get etcdcluster demo -o wide

step "writing and reading a key through TLS"
kubectl exec demo-0 -c etcd -- etcdctl --endpoints https://demo-client:2379 put /demo/hello world
kubectl exec demo-1 -c etcd -- etcdctl --endpoints https://demo-client:2379 get /demo/hello
kubectl exec demo-0 -c etcd -- etcdctl --endpoints https://demo-client:2379 endpoint status --cluster -w table

client_dir=$(dirname "$KUBECONFIG")/demo-client
mkdir -p "$client_dir"
for k in ca.crt tls.crt tls.key; do
  kubectl get secret demo-client-tls -o "jsonpath={.data.${k//./\\.}}" | base64 -d > "$client_dir/$k"
done

# From this machine, inside the cluster's network: the member pods' own
# etcdctl carries the root certificate in ETCDCTL_* variables, which a
# blank --cert cannot override.
echo "an anonymous client (the cluster's CA, but no client certificate) is refused:"
if hack/cluster.sh exec -- "$ETCD_BIN/etcdctl" --endpoints https://demo-client.default.svc.cluster.local:2379 \
    --cacert "$client_dir/ca.crt" --command-timeout=3s get /demo/hello 2>&1 | grep -o 'tls: certificate required' | head -1; then :; fi

cat <<EOF

The 3-member etcd cluster 'demo' is Ready, with mutual TLS.

  export KUBECONFIG=$KUBECONFIG
  export PATH=$K8S_BIN:$ETCD_BIN:\$PATH
  kubectl get etcdcluster demo            # status, members, conditions
  kubectl exec demo-0 -c etcd -- etcdctl member list -w table

From this machine, with the root client certificate (written to $client_dir):
  hack/cluster.sh exec -- $ETCD_BIN/etcdctl \\
    --endpoints https://demo-client.default.svc.cluster.local:2379 \\
    --cacert $client_dir/ca.crt --cert $client_dir/tls.crt --key $client_dir/tls.key \\
    put greeting hello

Tear everything down with: make cluster-down
EOF
