# Quorum: a Kubernetes operator for etcd.
# `make help` lists the targets. Tools and Kubernetes binaries are built from
# the Go module proxy and cached by version under $(QUORUM_CACHE).

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

QUORUM_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/quorum
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(QUORUM_CACHE)/controller-gen/$(CONTROLLER_TOOLS_VERSION)/controller-gen
K8S_VERSION ?= $(shell source hack/versions.sh && echo $$K8S_VERSION)
ETCD_VERSION ?= $(shell source hack/versions.sh && echo $$ETCD_VERSION)
HELM ?= $(shell source hack/versions.sh && echo $$HELM_BIN)/helm
MINIO_BIN ?= $(shell source hack/versions.sh && echo $$MINIO_BIN)/minio
AEMM_BIN ?= $(shell source hack/versions.sh && echo $$AEMM_BIN)/ec2-metadata-mock
PROMTOOL ?= $(shell source hack/versions.sh && echo $$PROMTOOL_BIN)/promtool
KUBEBUILDER_ASSETS ?= $(QUORUM_CACHE)/envtest/$(K8S_VERSION)
# The oldest supported Kubernetes (hack/versions.sh): its kube-apiserver for test-k8s-min.
K8S_MIN_VERSION ?= $(shell source hack/versions.sh && echo $$K8S_MIN_VERSION)
KUBEBUILDER_ASSETS_MIN ?= $(QUORUM_CACHE)/envtest/$(K8S_MIN_VERSION)

# The bundled etcd server's version comes from go.mod.
ETCD_SERVER_VERSION := $(shell go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3 | sed 's/^v//')
OPERATOR_VERSION ?= $(shell sed -n 's/^var Version = "\(.*\)"/\1/p' internal/version/version.go)
OPERATOR_IMAGE ?= quorum.dev/etcd-operator:$(OPERATOR_VERSION)
ETCD_IMAGE_REPO ?= quorum.dev/etcd-server
ETCD_IMAGE ?= $(ETCD_IMAGE_REPO):$(ETCD_SERVER_VERSION)-quorum.$(OPERATOR_VERSION)
# The same server built against the previous etcd minor, for upgrade tests.
ETCD_PREV_VERSION := $(shell go list -mod=readonly -modfile=hack/etcd-3.6.mod -m -f '{{.Version}}' go.etcd.io/etcd/server/v3 | sed 's/^v//')
ETCD_PREV_IMAGE ?= $(ETCD_IMAGE_REPO):$(ETCD_PREV_VERSION)-quorum.$(OPERATOR_VERSION)
OUT ?= _out
GO_TEST_FLAGS ?=

.PHONY: help
help: ## Show the targets.
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

##@ Development

$(CONTROLLER_GEN):
	GOBIN=$(dir $(CONTROLLER_GEN)) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate admission lists, deepcopy code, CRDs, RBAC and the chart's copies of them.
	go run ./hack/gen-admission -dir api/v1alpha1
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(CONTROLLER_GEN) rbac:roleName=quorum-operator crd:maxDescLen=400 webhook paths=./api/... paths=./controllers/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	hack/sync-chart.sh

.PHONY: verify
verify: generate ## Regenerate and fail if anything generated is out of date; check go.mod is tidy; vet and lint the chart.
	@if [ -n "$$(git status --porcelain -- api config charts)" ]; then \
		echo "generated files are out of date; run 'make generate' and commit:"; git status --porcelain -- api config charts; git diff --stat -- api config charts; exit 1; fi
	go mod tidy
	@if [ -n "$$(git status --porcelain -- go.mod go.sum)" ]; then \
		echo "go.mod/go.sum are not tidy; run 'go mod tidy' and commit:"; git diff -- go.mod go.sum; exit 1; fi
	go vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(MAKE) helm-lint

.PHONY: build
build: ## Build the operator and the bundled etcd server into bin/.
	CGO_ENABLED=0 go build -trimpath -o bin/manager .
	CGO_ENABLED=0 go build -trimpath -o bin/quorum-etcd ./etcdserver

.PHONY: plugin
plugin: ## Build the kubectl plugin into bin/kubectl-quorum (copy it to a directory on PATH: `kubectl quorum ...`).
	CGO_ENABLED=0 go build -trimpath -o bin/kubectl-quorum ./cmd/kubectl-quorum

##@ Test

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver, etcd and kubectl for envtest (cached by version).
	hack/envtest-assets.sh "$(KUBEBUILDER_ASSETS)"

.PHONY: envtest-assets-min
envtest-assets-min: ## Build the oldest supported Kubernetes's kube-apiserver (K8S_MIN_VERSION) for envtest (cached by version).
	hack/envtest-assets.sh --min "$(KUBEBUILDER_ASSETS_MIN)"

.PHONY: test
test: envtest-assets ## Unit tests, envtest controller tests, chart tests, the alert rule (promtool) and dashboard tests, then test-k8s-min.
	hack/build-k8s.sh helm minio promtool aemm etcd
	HELM="$(HELM)" MINIO_BIN="$(MINIO_BIN)" ETCD_BIN="$(QUORUM_CACHE)/etcd/$(ETCD_VERSION)" AEMM_BIN="$(AEMM_BIN)" PROMTOOL="$(PROMTOOL)" KUBEBUILDER_ASSETS="$(KUBEBUILDER_ASSETS)" go test $(GO_TEST_FLAGS) ./api/... ./internal/... ./controllers/... ./etcdserver/... ./hack/... ./test/admission/... ./test/helm/... ./test/history/... ./test/monitoring/... ./test/security/... ./bench/...
	$(MAKE) test-k8s-min

# The packages whose tests start an API server (envtest); the rest of
# ./controllers/... does not depend on the Kubernetes version.
ENVTEST_CONTROLLER_PKGS = $(shell go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./controllers/... | awk '{for (i = 2; i <= NF; i++) if ($$i ~ /\/controllers\/internal\/testenv$$/) {print $$1; break}}')

.PHONY: test-k8s-min
test-k8s-min: envtest-assets-min ## The admission suite and the envtest controller suites against the oldest supported Kubernetes (K8S_MIN_VERSION).
	hack/build-k8s.sh minio
	MINIO_BIN="$(MINIO_BIN)" KUBEBUILDER_ASSETS="$(KUBEBUILDER_ASSETS_MIN)" go test $(GO_TEST_FLAGS) ./test/admission/... $(ENVTEST_CONTROLLER_PKGS)

.PHONY: test-monitoring
test-monitoring: ## The alert rules (promtool check and unit tests) and the dashboard's metric names only.
	hack/build-k8s.sh promtool
	PROMTOOL="$(PROMTOOL)" go test $(GO_TEST_FLAGS) ./test/monitoring/...

CHAOS_ROUNDS ?= 1
.PHONY: test-chaos
test-chaos: images ## Reliability suite: CHAOS_ROUNDS rounds of each fault under a checked workload; prints a table.
	E2E_PROCS=1 E2E_LABELS=chaos CHAOS_ROUNDS=$(CHAOS_ROUNDS) E2E_TIMEOUT=$${E2E_TIMEOUT:-80m} hack/e2e.sh

.PHONY: helm-lint
helm-lint: ## Lint the operator chart.
	hack/build-k8s.sh helm
	$(HELM) lint charts/quorum-operator

.PHONY: test-e2e
E2E_PROCS ?= 2
test-e2e: images ## End-to-end tests on the local cluster (started if needed) or on $$KUBECONFIG when E2E_USE_EXISTING_CLUSTER=1; E2E_PROCS Ginkgo processes.
	E2E_PROCS=$(E2E_PROCS) hack/e2e.sh

BENCH_FLAGS ?=
.PHONY: bench
bench: envtest-assets ## Benchmarks: writes bench/results.md and bench/results.json
	go build -o bin/bench ./bench/cmd/bench
	hack/build-k8s.sh etcd
	KUBEBUILDER_ASSETS="$(KUBEBUILDER_ASSETS)" ETCD_BIN="$(QUORUM_CACHE)/etcd/$(ETCD_VERSION)" bin/bench $(BENCH_FLAGS)

##@ Images and cluster

.PHONY: images
images: ## Build the operator and etcd server images as tarballs in _out/ (no Docker needed).
	hack/images.sh "$(OUT)" "$(OPERATOR_IMAGE)" "$(ETCD_IMAGE)" "$(ETCD_PREV_IMAGE)"

# Not part of images/CI: cross-compiles everything for each platform (slow on a cold cache).
MULTIARCH_PLATFORMS ?= linux/amd64 linux/arm64
.PHONY: images-multiarch
images-multiarch: ## Release images for linux/amd64 and linux/arm64 (MULTIARCH_PLATFORMS) as OCI image indexes in _out/multiarch/ (same tags as images).
	IMAGE_PLATFORMS="$(MULTIARCH_PLATFORMS)" hack/images.sh "$(OUT)/multiarch" "$(OPERATOR_IMAGE)" "$(ETCD_IMAGE)" "$(ETCD_PREV_IMAGE)"

.PHONY: release-manifest
release-manifest: envtest-assets ## Write the versioned install manifest _out/quorum-operator-<version>.yaml (kubectl apply --server-side -f it).
	hack/release-manifest.sh

.PHONY: cluster-up
cluster-up: ## Start the throwaway local Kubernetes cluster.
	hack/cluster.sh up

.PHONY: cluster-down
cluster-down: ## Stop the local cluster and remove everything it created.
	hack/cluster.sh down

.PHONY: demo
demo: images ## Start a local cluster, install the operator with Helm and create a 3-member etcd cluster.
	hack/demo.sh

.PHONY: clean
clean: ## Remove build outputs (not the caches).
	rm -rf bin $(OUT)
