#!/usr/bin/env bash
# cert-manager for the local cluster (hack/cluster.sh), built from the Go
# module proxy like Kubernetes itself (hack/build-k8s.sh): the controller
# only, cached by version in $QUORUM_CACHE/cert-manager/$CERT_MANAGER_VERSION.
#
# Usage: hack/cert-manager.sh build|install|uninstall
#
#   build      the controller binary, its image (OCI tarball, hack/imagebuild)
#              and the CRDs, unless cached (a second build costs nothing)
#   install    build, then load the image into the local cluster and apply the
#              CRDs, a namespace "cert-manager", a ServiceAccount with the RBAC
#              the controller needs and a Deployment; waits until it runs.
#              Idempotent: a second install changes nothing.
#   uninstall  delete what install applied (CRDs included)
#
# What is built: github.com/cert-manager/cert-manager's own controllers for
# Certificates, CertificateRequests, Issuers and ClusterIssuers, with the
# SelfSigned and CA issuer types, started by a small main
# (hack/cert-manager/main.go.txt): the module's cmd/controller is a separate
# module that the proxy does not serve. The webhook and the cainjector are
# not built: Issuers and Certificates work without them (the webhook only
# validates and converts, the cainjector fills caBundle fields of webhooks
# and API services); ACME, Vault and Venafi issuers are left out.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/versions.sh
CERT_MANAGER_VERSION=${CERT_MANAGER_VERSION:-v1.21.2}
CM_CACHE=$QUORUM_CACHE/cert-manager/$CERT_MANAGER_VERSION
CM_IMAGE=quorum.local/cert-manager-controller:$CERT_MANAGER_VERSION
NS=cert-manager

build() {
  if [[ -f $CM_CACHE/controller.tar && -f $CM_CACHE/crds.yaml ]]; then return 0; fi
  echo ">> building cert-manager $CERT_MANAGER_VERSION controller into $CM_CACHE (minutes on a cold cache)"
  local w=$QUORUM_CACHE/wrappers/cert-manager-$CERT_MANAGER_VERSION
  mkdir -p "$w" "$CM_CACHE/bin"
  printf 'module quorum.dev/cert-manager-wrapper\n\ngo 1.26\n\nrequire github.com/cert-manager/cert-manager %s\n' "$CERT_MANAGER_VERSION" > "$w/go.mod"
  cp hack/cert-manager/main.go.txt "$w/main.go"
  (cd "$w" && go mod tidy)
  (cd "$w" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$CM_CACHE/bin/controller" .)
  # The CRDs as released (deploy/crds holds them without templating).
  local dir
  dir=$(go mod download -json "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
  for f in "$dir"/deploy/crds/*.yaml; do
    case $(basename "$f") in README*) continue ;; esac
    cat "$f"; echo
  done > "$CM_CACHE/crds.yaml.tmp"
  mv "$CM_CACHE/crds.yaml.tmp" "$CM_CACHE/crds.yaml"
  go build -o "$CM_CACHE/bin/imagebuild" ./hack/imagebuild
  "$CM_CACHE/bin/imagebuild" -o "$CM_CACHE/controller.tar.tmp" -t "$CM_IMAGE" \
    --file "$CM_CACHE/bin/controller:/controller" --entrypoint /controller \
    --user 65532:65532 --env PATH=/usr/local/bin:/usr/bin:/bin \
    --label org.opencontainers.image.title=cert-manager-controller
  mv "$CM_CACHE/controller.tar.tmp" "$CM_CACHE/controller.tar"
}

manifests() {
  cat <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: cert-manager
  namespace: $NS
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: quorum-local-cert-manager
rules:
- apiGroups: [cert-manager.io]
  resources: [certificates, certificaterequests, issuers, clusterissuers]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [cert-manager.io]
  resources: [certificates/status, certificaterequests/status, issuers/status, clusterissuers/status, certificates/finalizers, certificaterequests/finalizers]
  verbs: [get, update, patch]
- apiGroups: [cert-manager.io]
  resources: [signers]
  verbs: [approve]
  resourceNames: ["issuers.cert-manager.io/*", "clusterissuers.cert-manager.io/*"]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: quorum-local-cert-manager
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: quorum-local-cert-manager
subjects:
- kind: ServiceAccount
  name: cert-manager
  namespace: $NS
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cert-manager
  namespace: $NS
spec:
  replicas: 1
  selector:
    matchLabels: {app: cert-manager}
  template:
    metadata:
      labels: {app: cert-manager}
    spec:
      serviceAccountName: cert-manager
      containers:
      - name: controller
        image: $CM_IMAGE
        imagePullPolicy: Never
        args: [--cluster-resource-namespace=$NS, --v=2]
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          runAsNonRoot: true
          capabilities: {drop: [ALL]}
          seccompProfile: {type: RuntimeDefault}
YAML
}

install() {
  build
  export KUBECONFIG=${KUBECONFIG:-$(hack/cluster.sh kubeconfig)}
  local kubectl=$K8S_BIN/kubectl
  hack/cluster.sh load-image "$CM_CACHE/controller.tar" >/dev/null
  "$kubectl" apply --server-side --force-conflicts -f "$CM_CACHE/crds.yaml" >/dev/null
  "$kubectl" wait --for condition=Established --timeout 60s \
    crd/certificates.cert-manager.io crd/certificaterequests.cert-manager.io \
    crd/issuers.cert-manager.io crd/clusterissuers.cert-manager.io >/dev/null
  manifests | "$kubectl" apply --server-side --force-conflicts -f - >/dev/null
  "$kubectl" -n "$NS" rollout status deployment/cert-manager --timeout 120s
}

uninstall() {
  export KUBECONFIG=${KUBECONFIG:-$(hack/cluster.sh kubeconfig)}
  local kubectl=$K8S_BIN/kubectl
  manifests | "$kubectl" delete --ignore-not-found -f - >/dev/null
  if [[ -f $CM_CACHE/crds.yaml ]]; then
    "$kubectl" delete --ignore-not-found -f "$CM_CACHE/crds.yaml" >/dev/null
  fi
}

case ${1:-} in
  build) build ;;
  install) install ;;
  uninstall) uninstall ;;
  *) echo "usage: hack/cert-manager.sh build|install|uninstall" >&2; exit 2 ;;
esac
