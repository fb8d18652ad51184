# `hack/cluster.sh resize-smoke`: checks the real volume resize flow on a
# running cluster. A pod uses a 1Gi claim of each StorageClass; the claim of
# the default class ($STORAGE_CLASS, allowVolumeExpansion: true) is patched to
# 2Gi and hack/provisioner must grow its volume and complete the resize
# (PV and claim capacity 2Gi, conditions cleared, events); the claim of
# $STORAGE_CLASS_FIXED (allowVolumeExpansion: false) must be refused by the
# API server. Prints the claim's transitions as a watch saw them, the
# objects and the events. Sourced, not run; uses check() and smoke_image()
# from smoke.sh.
# shellcheck shell=bash

RESIZE_NS=quorum-resize-smoke

resize_yaml() {
  cat <<EOF2
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: grow, namespace: $RESIZE_NS}
spec:
  storageClassName: $STORAGE_CLASS
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: fixed, namespace: $RESIZE_NS}
spec:
  storageClassName: $STORAGE_CLASS_FIXED
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: resize, namespace: $RESIZE_NS}
spec:
  securityContext: {runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true}
  terminationGracePeriodSeconds: 1
  containers:
  - name: smoke
    image: $SMOKE_IMAGE
    imagePullPolicy: Never
    env: [{name: WRITE_FILE, value: /data/hello.txt}]
    readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
    volumeMounts: [{name: grow, mountPath: /data}, {name: fixed, mountPath: /fixed}]
  volumes:
  - {name: grow, persistentVolumeClaim: {claimName: grow}}
  - {name: fixed, persistentVolumeClaim: {claimName: fixed}}
EOF2
}

# equals WANT CMD...: CMD prints exactly WANT.
equals() { local want=$1; shift; local out; out=$("$@") && [[ $out == "$want" ]] || { echo "got '$out', want '$want'"; return 1; }; }
# refused WANT CMD...: CMD fails and says WANT.
refused() { local want=$1; shift; local out; if out=$("$@" 2>&1); then echo "accepted: $out"; return 1; fi; grep -qF -- "$want" <<<"$out" || { echo "$out"; return 1; }; }

# fixed_sizes PV: the fixed claim's request and capacity, and PV's capacity.
fixed_sizes() {
  echo "$(kc -n "$RESIZE_NS" get pvc fixed -o 'jsonpath={.spec.resources.requests.storage} {.status.capacity.storage}')" \
    "$(kc get pv "$1" -o 'jsonpath={.spec.capacity.storage}')"
}

# provisioner_can VERB RESOURCE [FLAGS] -- VERB RESOURCE...: kubectl auth can-i
# answers for the provisioner's user, in all namespaces, space-separated.
provisioner_can() {
  local q=() out=()
  while [[ $# -gt 0 ]]; do
    if [[ $1 == -- ]]; then out+=("$(kc auth can-i "${q[@]}" -A --as "$PROVISIONER_USER" 2>/dev/null)"); q=()
    else q+=("$1"); fi
    shift
  done
  out+=("$(kc auth can-i "${q[@]}" -A --as "$PROVISIONER_USER" 2>/dev/null)")
  echo "${out[*]}"
}

# resize_done CLAIM: no resize condition (Resizing, FileSystemResizePending,
# ControllerResizeError, NodeResizeError) and no allocatedResourceStatuses
# left. Other conditions (the controller-manager's Unused) may be there.
resize_done() {
  local s
  s=$(kc -n "$RESIZE_NS" get pvc "$1" \
    -o 'go-template={{range .status.conditions}}{{.type}} {{end}}| {{or .status.allocatedResourceStatuses "none"}}') || return 1
  if grep -qE 'Resizing|ResizePending|ResizeError' <<<"${s%|*}" || [[ ${s#*| } != none ]]; then
    echo "conditions and statuses: $s"
    return 1
  fi
}

RESIZE_PVC_COLUMNS='NAME:.metadata.name,CLASS:.spec.storageClassName,REQUEST:.spec.resources.requests.storage,CAPACITY:.status.capacity.storage,ALLOCATED:.status.allocatedResources.storage,RESIZE-STATUS:.status.allocatedResourceStatuses.storage,CONDITIONS:.status.conditions[*].type'

cmd_resize_smoke() {
  cluster_healthy || die "cluster is not up and healthy (hack/cluster.sh up)"
  local t0=$SECONDS k=(kc -n "$RESIZE_NS") pv fixedpv watchpid out
  local grow2Gi='{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}'
  SMOKE_PASSED=0 SMOKE_FAILED=0
  smoke_image
  kc delete namespace "$RESIZE_NS" --ignore-not-found --wait >/dev/null
  kc create namespace "$RESIZE_NS" >/dev/null
  resize_yaml | kc apply -f - >/dev/null

  check "pod with a 1Gi claim of each class is ready" "${k[@]}" wait pod/resize --for=condition=Ready --timeout=90s
  check "both claims bound at 1Gi" equals "Bound Bound 1Gi 1Gi" "${k[@]}" get pvc grow fixed \
    -o 'jsonpath={.items[*].status.phase} {.items[*].status.capacity.storage}'
  check "provisioner runs as $PROVISIONER_USER: may patch claim status, may not read secrets" equals "yes no" \
    provisioner_can patch persistentvolumeclaims --subresource=status -- get secrets
  pv=$("${k[@]}" get pvc grow -o 'jsonpath={.spec.volumeName}')
  fixedpv=$("${k[@]}" get pvc fixed -o 'jsonpath={.spec.volumeName}')
  check "classes: $STORAGE_CLASS expands, $STORAGE_CLASS_FIXED does not" equals "true false" \
    kc get sc "$STORAGE_CLASS" "$STORAGE_CLASS_FIXED" -o 'jsonpath={.items[*].allowVolumeExpansion}'

  # Every change of the claim, from the patch to the end of the resize.
  (exec "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" -n "$RESIZE_NS" get pvc grow --watch-only \
    -o "custom-columns=$RESIZE_PVC_COLUMNS" >"$STATE/resize-watch.txt" 2>&1) &
  watchpid=$!
  sleep 1
  check "claim $STORAGE_CLASS/grow patched to 2Gi (admitted)" "${k[@]}" patch pvc grow -p "$grow2Gi"
  check "PV $pv capacity 2Gi" equals 2Gi kc get pv "$pv" -o 'jsonpath={.spec.capacity.storage}'
  check "claim status.capacity 2Gi, allocatedResources 2Gi" equals "2Gi 2Gi" \
    "${k[@]}" get pvc grow -o 'jsonpath={.status.capacity.storage} {.status.allocatedResources.storage}'
  check "claim resize conditions and allocatedResourceStatuses cleared" resize_done grow
  check "events Resizing then VolumeResizeSuccessful on the claim" contains "Resizing VolumeResizeSuccessful" \
    "${k[@]}" get events --sort-by=.metadata.creationTimestamp \
    --field-selector "involvedObject.kind=PersistentVolumeClaim,involvedObject.name=grow,source=quorum-local-resizer" \
    -o 'jsonpath={range .items[*]}{.reason} {end}'
  check "pod still running and writes to the grown volume" contains "wrote /data/after-resize.txt" \
    "${k[@]}" exec resize -- /smoketest write /data/after-resize.txt grown
  sleep 1
  kill "$watchpid" 2>/dev/null || true
  wait "$watchpid" 2>/dev/null || true

  check "resize of claim $STORAGE_CLASS_FIXED/fixed refused by the API server" refused "must support resize" \
    "${k[@]}" patch pvc fixed -p "$grow2Gi"
  out=$("${k[@]}" patch pvc fixed -p "$grow2Gi" 2>&1) || true
  check "claim fixed (request, capacity) and PV $fixedpv still 1Gi" equals "1Gi 1Gi 1Gi" fixed_sizes "$fixedpv"

  echo "--- the grow claim as a watch saw it after the patch:"
  cat "$STATE/resize-watch.txt"
  echo "--- claims and volumes now:"
  "${k[@]}" get pvc -o "custom-columns=$RESIZE_PVC_COLUMNS"
  kc get pv "$pv" "$fixedpv" -o 'custom-columns=NAME:.metadata.name,CLASS:.spec.storageClassName,CAPACITY:.spec.capacity.storage,CLAIM:.spec.claimRef.name'
  echo "--- events of the grow claim:"
  "${k[@]}" get events --sort-by=.metadata.creationTimestamp \
    --field-selector involvedObject.kind=PersistentVolumeClaim,involvedObject.name=grow \
    -o 'custom-columns=TYPE:.type,REASON:.reason,FROM:.source.component,MESSAGE:.message'
  echo "--- the API server's answer to growing the fixed claim:"
  echo "$out"

  kc delete namespace "$RESIZE_NS" --wait --timeout=60s >/dev/null
  check "both volumes deleted with their claims" sh -c "! '$K8S_BIN/kubectl' --kubeconfig '$KUBECONFIG_FILE' get pv $pv $fixedpv >/dev/null 2>&1 && ! ls -d '$STATE/volumes/$pv'* '$STATE/volumes/$fixedpv'* >/dev/null 2>&1"
  log "resize smoke test took $((SECONDS - t0))s"
  echo "resize-smoke: $SMOKE_PASSED passed, $SMOKE_FAILED failed"
  [[ $SMOKE_FAILED == 0 ]]
}
