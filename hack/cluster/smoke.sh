# `hack/cluster.sh smoke`: checks a running cluster end to end with an image
# built here: pods run as non-root from a FROM-scratch image, dynamic volumes
# bind and are writable, cluster DNS, kubectl logs/exec, the host reaching pod
# and Service IPs, and volume deletion on claim deletion. Sourced, not run.
# shellcheck shell=bash

SMOKE_NS=quorum-smoke
SMOKE_IMAGE=quorum.dev/smoketest:v1

smoke_yaml() {
  cat <<EOF2
apiVersion: v1
kind: Service
metadata: {name: smoke-peer, namespace: $SMOKE_NS}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: smoke}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: smoke, namespace: $SMOKE_NS}
spec:
  selector: {app: smoke}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: smoke, namespace: $SMOKE_NS}
spec:
  serviceName: smoke-peer
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: smoke}}
  template:
    metadata: {labels: {app: smoke}}
    spec:
      securityContext: {runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true}
      terminationGracePeriodSeconds: 1
      containers:
      - name: smoke
        image: $SMOKE_IMAGE
        imagePullPolicy: Never
        env: [{name: WRITE_FILE, value: /data/hello.txt}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 64Mi}}}
EOF2
}

SMOKE_PASSED=0
SMOKE_FAILED=0
# check DESCRIPTION CMD...: runs CMD (retrying for up to 20 s) and records it.
check() {
  local what=$1 i out; shift
  for ((i = 0; i < 20; i++)); do
    if out=$("$@" 2>&1); then
      echo "ok   - $what"; SMOKE_PASSED=$((SMOKE_PASSED + 1)); return 0
    fi
    sleep 1
  done
  echo "FAIL - $what"; printf '       %s\n' "$out" | tail -5
  SMOKE_FAILED=$((SMOKE_FAILED + 1))
}
contains() { local want=$1; shift; local out; out=$("$@") && grep -qF -- "$want" <<<"$out" || { echo "$out"; return 1; }; }

# smoke_image: builds $SMOKE_IMAGE and loads it into the node.
smoke_image() {
  local dir=$STATE/smoke
  mkdir -p "$dir"
  (cd "$REPO_ROOT" && CGO_ENABLED=0 go build -trimpath -o "$dir/" ./hack/cluster/smoketest) || die "build failed"
  "$STATE/bin/imagebuild" -o "$dir/smoketest.tar" -t "$SMOKE_IMAGE" --file "$dir/smoketest:/smoketest" \
    --entrypoint /smoketest --user 65532:65532 --dir /tmp:1777 || die "image build failed"
  cmd_load_image "$dir/smoketest.tar" >/dev/null
}

cmd_smoke() {
  cluster_healthy || die "cluster is not up and healthy (hack/cluster.sh up)"
  local t0=$SECONDS pvs pv podip svcip
  smoke_image
  kc delete namespace "$SMOKE_NS" --ignore-not-found --wait >/dev/null
  kc create namespace "$SMOKE_NS" >/dev/null
  smoke_yaml | kc apply -f - >/dev/null

  local k=(kc -n "$SMOKE_NS")
  check "StatefulSet with 2 volume claims rolled out" "${k[@]}" rollout status sts/smoke --timeout=90s
  check "claims bound by the default StorageClass" contains "Bound Bound" \
    "${k[@]}" get pvc -o 'jsonpath={.items[*].status.phase}'
  check "non-root pod wrote to its volume (kubectl exec)" contains "hello from smoke-0" \
    "${k[@]}" exec smoke-0 -- /smoketest cat /data/hello.txt
  check "kubectl logs" contains "as uid 65532" "${k[@]}" logs smoke-1
  check "pod resolves a peer's DNS name" contains "smoke-1.smoke-peer" \
    "${k[@]}" exec smoke-0 -- /smoketest resolve "smoke-1.smoke-peer.$SMOKE_NS.svc.cluster.local"
  check "pod resolves the API server Service" contains "$API_SVC_IP" \
    "${k[@]}" exec smoke-0 -- /smoketest resolve kubernetes.default.svc.cluster.local
  podip=$("${k[@]}" get pod smoke-1 -o 'jsonpath={.status.podIP}')
  svcip=$("${k[@]}" get svc smoke -o 'jsonpath={.spec.clusterIP}')
  check "host reaches pod IP $podip" contains "hello from smoke-1" curl -sS --max-time 3 "http://$podip:8080/"
  check "host reaches Service IP $svcip" contains "hello from smoke-" curl -sS --max-time 3 "http://$svcip/"
  check "exec resolves a pod DNS name" contains "smoke-0.smoke-peer" \
    cmd_exec getent hosts "smoke-0.smoke-peer.$SMOKE_NS.svc.cluster.local"
  check "exec reaches a Service by short name" contains "hello from smoke-" \
    cmd_exec curl -sS --max-time 3 "http://smoke.$SMOKE_NS/"

  pvs=$("${k[@]}" get pvc -o 'jsonpath={.items[*].spec.volumeName}')
  kc delete namespace "$SMOKE_NS" --wait --timeout=60s >/dev/null
  for pv in $pvs; do
    check "volume $pv deleted with its claim" sh -c "! '$K8S_BIN/kubectl' --kubeconfig '$KUBECONFIG_FILE' get pv $pv >/dev/null 2>&1 && ! ls -d '$STATE/volumes/$pv'* >/dev/null 2>&1"
  done
  log "smoke test took $((SECONDS - t0))s"
  echo "smoke: $SMOKE_PASSED passed, $SMOKE_FAILED failed"
  [[ $SMOKE_FAILED == 0 ]]
}
