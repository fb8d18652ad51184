package etcdcluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"

	"quorum.dev/etcd-operator/controllers/render"
)

// applyServices applies the headless peer Service and the client Service
// (exposed as spec.service asks), then records in status.service what the
// client Service really has: its type, node port and load balancer
// addresses, read back from the Service (the Service is watched, so a
// load balancer address assigned later brings another pass).
func (r *Reconciler) applyServices(ctx context.Context, p *pass) error {
	if err := r.apply(ctx, p.cluster, render.PeerService(p.cluster)); err != nil {
		return err
	}
	if err := r.apply(ctx, p.cluster, render.ClientService(p.cluster)); err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
			log.FromContext(ctx).V(1).Info("client service refused", "error", err.Error())
			return &specError{etcdv1.ReasonServiceRefused, fmt.Sprintf("the API server refused client Service %s as spec.service asks for it (%v): change spec.service; checked again every %s", p.cluster.ClientServiceName(), err, requeueSpecError)}
		}
		return err
	}
	svc := &corev1.Service{}
	err := r.Get(ctx, client.ObjectKey{Namespace: p.cluster.Namespace, Name: p.cluster.ClientServiceName()}, svc)
	if apierrors.IsNotFound(err) {
		// Applied but not in the cache yet: the next pass reads it.
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading client service: %w", err)
	}
	p.cluster.Status.Service = render.ServiceStatus(svc)
	return nil
}

func (r *Reconciler) applyPDB(ctx context.Context, p *pass) error {
	return r.apply(ctx, p.cluster, render.PodDisruptionBudget(p.cluster))
}

// applyNetworkPolicy applies the NetworkPolicy when enabled, and deletes the
// one the operator made when it is turned off.
func (r *Reconciler) applyNetworkPolicy(ctx context.Context, p *pass) error {
	c := p.cluster
	if c.Spec.NetworkPolicy.Enabled {
		return r.apply(ctx, c, render.NetworkPolicy(c, r.OperatorNamespace))
	}
	np := &networkingv1.NetworkPolicy{}
	err := r.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.NetworkPolicyName()}, np)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading networkpolicy: %w", err)
	}
	if !metav1.IsControlledBy(np, c) {
		return nil
	}
	if err := r.Delete(ctx, np); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting networkpolicy: %w", err)
	}
	return nil
}
