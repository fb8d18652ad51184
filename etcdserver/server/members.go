package server

import (
	"context"
	"crypto/tls"
	"fmt"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ClusterView is what the other members answered: the member list and the
// cluster ID from the response header. The list is linearizable (etcd's
// default for MemberList), so a quorum stands behind it.
type ClusterView struct {
	ClusterID uint64
	Members   []*etcdserverpb.Member
}

// listMembers asks the given client endpoints for the cluster membership.
// With server TLS on, the member's own server certificate is the client
// certificate (the operator issues it for both serverAuth and clientAuth)
// and ca.crt verifies the other members. ctx bounds the whole call.
func listMembers(ctx context.Context, lg *zap.Logger, endpoints []string, serverTLS TLSDir) (*ClusterView, error) {
	var tlsCfg *tls.Config
	if serverTLS.Enabled() {
		info := transport.TLSInfo{
			CertFile:      serverTLS.CertFile(),
			KeyFile:       serverTLS.KeyFile(),
			TrustedCAFile: serverTLS.CAFile(),
		}
		var err error
		if tlsCfg, err = info.ClientConfig(); err != nil {
			return nil, fmt.Errorf("loading client TLS from %s: %w", serverTLS, err)
		}
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: endpoints,
		TLS:       tlsCfg,
		Context:   ctx,
		Logger:    lg.Named("join-client"),
	})
	if err != nil {
		return nil, fmt.Errorf("creating etcd client for %v: %w", endpoints, err)
	}
	defer cli.Close()

	resp, err := cli.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing members via %v: %w", endpoints, err)
	}
	return &ClusterView{ClusterID: resp.Header.GetClusterId(), Members: resp.Members}, nil
}
