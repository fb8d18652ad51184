// Package identity checks, before a pod is made, that the ServiceAccount
// an S3 location's pods run as (webIdentity, or instanceRole with a
// service account) exists. Without it the Job or StatefulSet controller
// cannot create the pod at all (FailedCreate), and nothing on the pod says
// why; the reconcilers of EtcdBackup, EtcdBackupSchedule (prune Jobs),
// EtcdRestore and EtcdCluster report this message instead.
package identity

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/render"
)

// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get

// MissingServiceAccount reads, from r (the API server: ServiceAccounts are
// not in the operator's cache), the ServiceAccount the pods reaching loc
// run as (render.S3ServiceAccount), and returns what is wrong when it is
// not found: "ServiceAccount X (s3.webIdentity.serviceAccountName) not
// found in namespace Y: create it ...". Empty when loc names none (static
// keys, a PVC, an instanceRole without one) or it exists. Errors other
// than NotFound are returned. The caller appends what happens next.
func MissingServiceAccount(ctx context.Context, r client.Reader, namespace string, loc etcdv1.BackupLocation) (string, error) {
	name, field := render.S3ServiceAccount(loc.S3)
	if name == "" {
		return "", nil
	}
	err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &corev1.ServiceAccount{})
	switch {
	case err == nil:
		return "", nil
	case !apierrors.IsNotFound(err):
		return "", fmt.Errorf("reading ServiceAccount %s (s3.%s): %w", name, field, err)
	}
	return Message(namespace, name, field, loc.S3.WebIdentity != nil), nil
}

// Message says that ServiceAccount name, named by field of an S3 location,
// is not found in namespace, and how to create it for webIdentity (the
// role's trust policy names its token's subject) or instanceRole (EKS Pod
// Identity associates a role with it). Pure.
func Message(namespace, name, field string, webIdentity bool) string {
	how := fmt.Sprintf("create it, and let the role's trust policy accept its token "+
		"(subject system:serviceaccount:%s:%s; on EKS, the cluster's OIDC provider as federated principal)", namespace, name)
	if !webIdentity {
		how = "create it, and associate it with an IAM role (EKS Pod Identity: aws eks create-pod-identity-association)"
	}
	return fmt.Sprintf("ServiceAccount %s (s3.%s) not found in namespace %s: the pods that reach the bucket run as it; %s",
		name, field, namespace, how)
}
