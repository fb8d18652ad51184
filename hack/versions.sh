# Pinned versions and cache locations, sourced by the other hack/ scripts.
# Caches live outside git, keyed by version, so a second build costs nothing.
K8S_VERSION=${K8S_VERSION:-v1.37.2}
# The oldest supported Kubernetes: CEL's IP and CIDR libraries (isIP, isCIDR
# in the CRDs' rules) are accepted in new rules from 1.31 on. Only its
# kube-apiserver is built, for `make test-k8s-min` (README, "Kubernetes versions").
K8S_MIN_VERSION=${K8S_MIN_VERSION:-v1.31.14}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
COREDNS_VERSION=${COREDNS_VERSION:-v1.12.4}
HELM_VERSION=${HELM_VERSION:-v3.22.0}
MINIO_VERSION=${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}
# Prometheus 3.16 (the Go module is tagged v0.316.0): promtool for the alert rule tests.
PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-v0.316.0}
# AWS's EC2 instance metadata emulator: the metadata service of the
# instance-role S3 credential tests (etcdserver/backup).
AEMM_VERSION=${AEMM_VERSION:-v1.13.0}

QUORUM_CACHE=${QUORUM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quorum}
K8S_BIN=$QUORUM_CACHE/k8s/$K8S_VERSION
K8S_MIN_BIN=$QUORUM_CACHE/k8s/$K8S_MIN_VERSION
ETCD_BIN=$QUORUM_CACHE/etcd/$ETCD_VERSION
COREDNS_BIN=$QUORUM_CACHE/coredns/$COREDNS_VERSION
HELM_BIN=$QUORUM_CACHE/helm/$HELM_VERSION
MINIO_BIN=$QUORUM_CACHE/minio/$MINIO_VERSION
PROMTOOL_BIN=$QUORUM_CACHE/promtool/$PROMETHEUS_VERSION
AEMM_BIN=$QUORUM_CACHE/aemm/$AEMM_VERSION
export K8S_VERSION K8S_MIN_VERSION ETCD_VERSION QUORUM_CACHE K8S_BIN K8S_MIN_BIN ETCD_BIN COREDNS_BIN HELM_BIN MINIO_BIN PROMTOOL_BIN AEMM_BIN
