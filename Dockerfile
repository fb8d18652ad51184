# Multi-stage build for users who have Docker. The local cluster and CI build
# the same images without Docker: see hack/images.sh.
#
#   docker build --target operator -t quorum.dev/etcd-operator:0.1.0 .
#   docker build --target etcd-server -t quorum.dev/etcd-server:3.7.3-quorum.0.1.0 .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags "-s -w" -o /out/manager . && \
    go build -trimpath -ldflags "-s -w" -o /out/quorum-etcd ./etcdserver
# etcdctl and etcdutl of the same etcd version as the bundled server.
RUN v=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3) && \
    mkdir /w && cd /w && go mod init w && \
    go get go.etcd.io/etcd/etcdctl/v3@$v go.etcd.io/etcd/etcdutl/v3@$v && \
    go build -trimpath -ldflags "-s -w" -o /out/ go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3

FROM gcr.io/distroless/static-debian12:nonroot AS operator
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]

FROM gcr.io/distroless/static-debian12:nonroot AS etcd-server
COPY --from=build /out/quorum-etcd /out/etcdctl /out/etcdutl /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/quorum-etcd"]
CMD ["serve"]
