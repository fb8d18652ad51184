package etcdcluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"quorum.dev/etcd-operator/controllers/internal/podcause"
)

// defaultClassAnnotation marks the default StorageClass (Kubernetes:
// "Change the default StorageClass").
const defaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"

// readPendingClaims reads, for every member pod whose cause is
// ClaimPending, its claim (data-<pod>) and the claim's StorageClass (or
// the default class), into p.claims for podcause.WithClaim: a claim whose
// class does not exist never binds. Pods with another cause cost nothing.
func (r *Reconciler) readPendingClaims(ctx context.Context, p *pass) error {
	c := p.cluster
	var defaultClass *string // read once, when a claim names no class
	for i := range p.pods {
		pod := &p.pods[i]
		if cause, ok := podcause.Of(pod); !ok || cause.Reason != podcause.ClaimPending {
			continue
		}
		o, member := c.MemberOrdinal(pod.Name)
		if !member {
			continue
		}
		pvc := &corev1.PersistentVolumeClaim{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.MemberClaimName(o)}, pvc); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return fmt.Errorf("reading volume claim %s: %w", c.MemberClaimName(o), err)
		}
		cl := podcause.Claim{Name: pvc.Name, Phase: pvc.Status.Phase, Class: pvc.Spec.StorageClassName}
		if pvc.Status.Phase == "" {
			cl.Phase = corev1.ClaimPending
		}
		if cl.Class == nil {
			if defaultClass == nil {
				name, err := r.defaultStorageClass(ctx)
				if err != nil {
					return err
				}
				defaultClass = &name
			}
			cl.DefaultClass = *defaultClass
		}
		name := cl.DefaultClass
		if cl.Class != nil {
			name = *cl.Class
		}
		if name != "" {
			sc := &storagev1.StorageClass{}
			switch err := r.Get(ctx, client.ObjectKey{Name: name}, sc); {
			case apierrors.IsNotFound(err):
			case err != nil:
				return fmt.Errorf("reading StorageClass %s: %w", name, err)
			default:
				cl.ClassFound, cl.Provisioner = true, sc.Provisioner
			}
		}
		if p.claims == nil {
			p.claims = map[string]podcause.Claim{}
		}
		p.claims[pod.Name] = cl
	}
	return nil
}

// defaultStorageClass is the name of the cluster's default StorageClass,
// "" when none is marked default (the newest wins when several are, as
// the admission plugin chooses).
func (r *Reconciler) defaultStorageClass(ctx context.Context) (string, error) {
	list := &storagev1.StorageClassList{}
	if err := r.List(ctx, list); err != nil {
		return "", fmt.Errorf("listing StorageClasses: %w", err)
	}
	var best *storagev1.StorageClass
	for i := range list.Items {
		sc := &list.Items[i]
		if sc.Annotations[defaultClassAnnotation] != "true" {
			continue
		}
		if best == nil || best.CreationTimestamp.Before(&sc.CreationTimestamp) {
			best = sc
		}
	}
	if best == nil {
		return "", nil
	}
	return best.Name, nil
}
