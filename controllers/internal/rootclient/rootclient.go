// Package rootclient says how the operator reaches a cluster as etcd's
// root user: the members' client URLs and, with TLS, the root client
// certificate. The EtcdCluster and EtcdUser reconcilers share it.
package rootclient

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
)

// KeyCACert is the CA bundle's key in the operator's TLS Secrets.
const KeyCACert = "ca.crt"

// Config builds the connection settings for a cluster: the client URL of
// members 0..replicas-1 in the scheme every member serves
// (EtcdCluster.Scheme: http in the first phases of a TLS migration), and
// the root client certificate (Secret EtcdCluster.ClientSecretName, read
// through reader) when that is https. The second result identifies the
// credentials (the Secret's resourceVersion, "plain" without TLS), so a
// renewed certificate reconnects. Passwords (TLS off) are the caller's.
func Config(ctx context.Context, reader client.Reader, c *etcdv1.EtcdCluster, domain string, replicas int32) (etcdclient.Config, string, error) {
	cfg := etcdclient.Config{}
	for i := 0; i < int(replicas); i++ {
		cfg.Endpoints = append(cfg.Endpoints, c.MemberClientURL(i, domain))
	}
	if !c.ClientTLS() {
		return cfg, "plain", nil
	}
	s := &corev1.Secret{}
	if err := reader.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.ClientSecretName()}, s); err != nil {
		return cfg, "", fmt.Errorf("client certificate secret %s not available: %v", c.ClientSecretName(), err)
	}
	tlsCfg, err := etcdclient.TLSConfig(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey], s.Data[KeyCACert])
	if err != nil {
		return cfg, "", err
	}
	cfg.TLS = tlsCfg
	return cfg, s.ResourceVersion, nil
}
