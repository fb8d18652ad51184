package etcdcluster

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/etcdclient"
	"quorum.dev/etcd-operator/controllers/internal/confirm"
	"quorum.dev/etcd-operator/controllers/render"
)

// Reasons of the events a TLS migration records, one per step.
const (
	eventTLSMigrationStarted = "TLSMigrationStarted"
	eventTLSMigrationPhase   = "TLSMigrationPhase"
	eventPeerURLMoved        = "PeerURLMoved"
	eventTLSMigrationDone    = "TLSMigrationDone"
)

// resumeTLSMigration decides, before anything is rendered, whether a TLS
// migration is under way and in which phase (startTLSMigration), and
// records it in status.tlsMigration, which the renderers read (see
// tlsmigration_plan.go for the phases).
func (r *Reconciler) resumeTLSMigration(ctx context.Context, p *pass) error {
	c := p.cluster
	sts := &appsv1.StatefulSet{}
	// "No StatefulSet" means a new cluster, rendered with TLS at once: a
	// StatefulSet the cache has not seen yet would give running http
	// members https peers, so its absence is confirmed.
	err := confirm.Get(ctx, r.Client, r.APIReader, client.ObjectKey{Namespace: c.Namespace, Name: c.StatefulSetName()}, sts)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading statefulset: %w", err)
	}
	exists := err == nil
	var templateTLS bool
	var templateStep string
	if exists {
		templateTLS, templateStep = render.PodServesTLS(&sts.Spec.Template.Spec), render.PodTLSMigrationStep(&sts.Spec.Template.Spec)
	}
	var recorded etcdv1.TLSMigrationPhase
	if c.Status.TLSMigration != nil {
		recorded = c.Status.TLSMigration.Phase
	}
	phase := startTLSMigration(c.TLSEnabled(), recorded, exists, templateTLS, templateStep)
	if phase == "" {
		c.Status.TLSMigration = nil
		return nil
	}
	if c.Status.TLSMigration == nil {
		now := metav1.NewTime(r.now())
		c.Status.TLSMigration = &etcdv1.TLSMigrationStatus{Phase: phase, StartTime: &now}
		log.FromContext(ctx).V(1).Info("TLS migration: start", "phase", phase, "templateTLS", templateTLS, "templateStep", templateStep)
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventTLSMigrationStarted, "TLSMigration",
			"TLS turned on for a running cluster: members move from http to https one at a time, starting with phase %s", describeTLSPhase(phase))
	}
	c.Status.TLSMigration.Phase = phase
	return nil
}

// advanceTLSMigration carries out the next move of a TLS migration: ends
// a rolling-restart phase once it has rolled out, or moves one member's
// peer URL (advanceTLSMigration in tlsmigration_plan.go decides). The
// rolling restarts themselves are the rollout step's.
func (r *Reconciler) advanceTLSMigration(ctx context.Context, p *pass) error {
	c := p.cluster
	phase := c.TLSMigrating()
	if phase == "" || p.sts == nil || p.inPlace != nil || p.stsReplacing {
		return nil
	}
	tmpl := &p.sts.Spec.Template.Spec
	in := tlsInput{
		Phase:     phase,
		Outdated:  p.outdated,
		RolledOut: rolledOut(p) && render.PodServesTLS(tmpl) && render.PodTLSMigrationStep(tmpl) == render.TLSMigrationStep(c),
		AllHealthy: p.client != nil && p.obs.quorate() && len(p.obs.list) > 0 &&
			len(p.obs.statuses) == len(p.obs.list) && p.obs.healthyCount() == len(p.obs.list),
	}
	domain := r.Render.Domain()
	for _, m := range p.obs.list {
		tm := tlsMember{ID: m.ID, Name: r.memberName(c, m), PeerURLs: m.PeerURLs}
		if o, ok := c.MemberOrdinal(tm.Name); ok {
			tm.Want = tlsPeerURL(c, o, domain, phase)
		}
		in.Members = append(in.Members, tm)
	}
	step := advanceTLSMigration(in)
	log.FromContext(ctx).V(1).Info("TLS migration decision", "phase", phase, "rolledOut", in.RolledOut, "allHealthy", in.AllHealthy,
		"outdated", in.Outdated, "nextPhase", step.Phase, "update", step.Update != nil, "message", step.Message)
	if step.Phase != "" {
		p.tlsMessage = step.Message
	}
	if u := step.Update; u != nil {
		err := p.client.UpdatePeerURLs(ctx, u.ID, []string{u.Want})
		if etcdclient.RefusedForNow(err) {
			p.tlsMessage += fmt.Sprintf("; etcd refused for now, trying again: %v", err)
			return nil
		}
		if err != nil {
			return err
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventPeerURLMoved, "TLSMigration", "%s", step.Message)
	}
	switch {
	case step.Phase == phase:
	case step.Phase == "":
		c.Status.TLSMigration = nil
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventTLSMigrationDone, "TLSMigration", "%s", step.Message)
	default:
		c.Status.TLSMigration.Phase = step.Phase
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventTLSMigrationPhase, "TLSMigration", "%s", step.Message)
	}
	return nil
}
