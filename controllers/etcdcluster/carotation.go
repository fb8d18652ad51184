package etcdcluster

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/pki"
	"quorum.dev/etcd-operator/controllers/render"
)

// Keys of the CA Secret beyond tls.crt and tls.key (the CA that signs) and
// ca.crt (what every Secret trusts): the next CA during a rotation's
// TrustBoth phase. See carotation_plan.go for the phases.
const (
	keyNextCACert = "next.crt"
	keyNextCAKey  = "next.key"
	// annotationCARotated on the CA Secret: it was rotated at least once,
	// so the members' template carries AnnotationCATrust (a cluster never
	// rotated keeps its template, and an operator upgrade restarts nothing).
	annotationCARotated = "etcd.quorum.dev/ca-rotated"
	// AnnotationCATrust on the members' pod template is a digest of the CA
	// Secret's signer and bundle: it changes in every phase of a CA
	// rotation, and the rollout step restarts members into it.
	AnnotationCATrust = "etcd.quorum.dev/ca-trust"
	// Annotations of the CA Secret while a rotation is under way: the
	// phase that the Secret's data does not tell (DropOld), and when and
	// why the rotation started. The status is rendered from them, so a
	// pass that read a cluster from before the last status patch cannot
	// lose the record.
	annotationCAPhase  = "etcd.quorum.dev/ca-rotation-phase"
	annotationCAStart  = "etcd.quorum.dev/ca-rotation-start"
	annotationCAReason = "etcd.quorum.dev/ca-rotation-reason"
)

// Reasons of the events of a CA rotation.
const (
	eventCARotationStarted = "CARotationStarted"
	eventCARotationPhase   = "CARotationPhase"
	eventCARotationDone    = "CARotationDone"
)

// caState is the CA Secret as read this pass.
type caState struct {
	secret     *corev1.Secret
	signer     pki.Pair
	signerCert *x509.Certificate
	// bundle is ca.crt: the CAs every Secret trusts, PEM; size certificates.
	bundle []byte
	size   int
	// next is the CA kept beside the signer in TrustBoth, if any.
	next *pki.Pair
	// trust is the AnnotationCATrust value ("" for a CA never rotated).
	trust string
	// leavesCurrent: every leaf Secret was found or made to match.
	leavesCurrent bool
}

// readCASecret reads the CA Secret: the signer must parse and match its
// key, ca.crt (missing in none the operator wrote, but tolerated) must be
// a bundle of certificates holding the signer.
func readCASecret(s *corev1.Secret) (*caState, error) {
	st := &caState{secret: s, signer: pki.Pair{CertPEM: s.Data[corev1.TLSCertKey], KeyPEM: s.Data[corev1.TLSPrivateKeyKey]}}
	cert, _, err := pki.Parse(st.signer)
	if err != nil {
		return nil, fmt.Errorf("secret %s does not hold a usable CA (delete it to have a new one issued, which re-issues every certificate and restarts nothing: members keep trusting the old CA until they restart; rotate with the annotation %s instead): %w", s.Name, etcdv1.AnnotationRotateCA, err)
	}
	st.signerCert = cert
	st.bundle = s.Data[keyCACert]
	if len(st.bundle) == 0 {
		st.bundle = st.signer.CertPEM
	}
	certs, err := pki.ParseBundle(st.bundle)
	if err != nil {
		return nil, fmt.Errorf("secret %s: ca.crt: %w", s.Name, err)
	}
	st.size = len(certs)
	if len(s.Data[keyNextCACert]) > 0 {
		next := pki.Pair{CertPEM: s.Data[keyNextCACert], KeyPEM: s.Data[keyNextCAKey]}
		if _, _, err := pki.Parse(next); err != nil {
			return nil, fmt.Errorf("secret %s: the next CA of a rotation (%s): %w", s.Name, keyNextCACert, err)
		}
		st.next = &next
	}
	if s.Annotations[annotationCARotated] != "" {
		st.trust = render.Hash(string(st.signer.CertPEM) + "\n" + string(st.bundle))
	}
	return st, nil
}

// advanceCARotation carries out the next move of a CA rotation
// (advanceCARotation in carotation_plan.go decides): starts one, makes the
// next CA the signer, drops the old CA from the bundle, or records the
// end. The leaf Secrets follow the CA Secret in the next pass's
// certificates step, and the restarts are the rollout step's.
func (r *Reconciler) advanceCARotation(ctx context.Context, p *pass) error {
	c := p.cluster
	ca := p.ca
	if ca == nil || p.sts == nil || ca.secret.ResourceVersion == "" || p.certSwitch.recorded() {
		// A switch of certificate sources has the CA Secret (certswitch.go).
		return nil
	}
	st := c.Status.CertificateAuthority
	ann := ca.secret.Annotations
	phase := caPhaseOf(ca.next != nil, ca.size, etcdv1.CARotationPhase(ann[annotationCAPhase]))
	st.Rotation = nil
	if phase != "" {
		st.Rotation = &etcdv1.CARotationStatus{Phase: phase, Reason: ann[annotationCAReason]}
		if t, err := time.Parse(time.RFC3339, ann[annotationCAStart]); err == nil {
			st.Rotation.StartTime = &metav1.Time{Time: t}
		}
	}
	in := caInput{
		Now: r.now(), Phase: phase, NotAfter: ca.signerCert.NotAfter, LeavesCurrent: ca.leavesCurrent,
		RolledOut: rolledOut(p) && p.sts.Spec.Template.Annotations[AnnotationCATrust] == ca.trust,
		AllHealthy: p.client != nil && p.obs.quorate() && len(p.obs.list) > 0 &&
			len(p.obs.statuses) == len(p.obs.list) && p.obs.healthyCount() == len(p.obs.list),
	}
	if v := c.Annotations[etcdv1.AnnotationRotateCA]; v != "" && v != st.HandledRequest {
		in.Request = v
	}
	in.Busy = restartsBusy(p)
	if in.Busy == "" && p.certSwitch.pending() {
		in.Busy = "the switch of certificate sources"
	}
	step := advanceCARotation(in)
	log.FromContext(ctx).V(1).Info("CA rotation decision", "phase", phase, "leavesCurrent", in.LeavesCurrent, "rolledOut", in.RolledOut,
		"allHealthy", in.AllHealthy, "request", in.Request, "busy", in.Busy, "action", step.Action, "message", step.Message)
	p.caMessage = step.Message
	if step.Action == caNothing {
		return nil
	}
	s := ca.secret.DeepCopy()
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	switch step.Action {
	case caStart:
		next, err := pki.NewCA(caCommonName(c), in.Now, caValidity)
		if err != nil {
			return err
		}
		s.Data[keyNextCACert], s.Data[keyNextCAKey] = next.CertPEM, next.KeyPEM
		s.Data[keyCACert] = joinPEM(ca.signer.CertPEM, next.CertPEM)
		s.Annotations[annotationCARotated] = "true"
		s.Annotations[annotationCAStart] = in.Now.UTC().Format(time.RFC3339)
		s.Annotations[annotationCAReason] = step.Reason
	case caPromote:
		s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey] = ca.next.CertPEM, ca.next.KeyPEM
		s.Data[keyCACert] = joinPEM(ca.signer.CertPEM, ca.next.CertPEM)
		delete(s.Data, keyNextCACert)
		delete(s.Data, keyNextCAKey)
	case caDropOld:
		s.Data[keyCACert] = ca.signer.CertPEM
		s.Annotations[annotationCAPhase] = string(etcdv1.CARotationDropOld)
	case caFinish:
		delete(s.Annotations, annotationCAPhase)
		delete(s.Annotations, annotationCAStart)
		delete(s.Annotations, annotationCAReason)
	}
	if err := r.Update(ctx, s); err != nil {
		return fmt.Errorf("CA rotation: updating secret %s: %w", s.Name, err)
	}
	now := metav1.NewTime(in.Now)
	switch step.Action {
	case caStart:
		st.Rotation = &etcdv1.CARotationStatus{Phase: etcdv1.CARotationTrustBoth, StartTime: &now, Reason: step.Reason}
		if v := c.Annotations[etcdv1.AnnotationRotateCA]; v != "" {
			st.HandledRequest = v
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventCARotationStarted, "CARotation", "%s", step.Message)
	case caPromote:
		st.Rotation.Phase = etcdv1.CARotationIssueFromNew
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventCARotationPhase, "CARotation", "%s", step.Message)
	case caDropOld:
		st.Rotation.Phase = etcdv1.CARotationDropOld
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventCARotationPhase, "CARotation", "%s", step.Message)
	case caFinish:
		st.Rotation, st.LastRotationTime = nil, &now
		p.caMessage = ""
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventCARotationDone, "CARotation", "%s", step.Message)
	}
	return nil
}

// joinPEM is a bundle of PEM certificates, each ending in a newline.
func joinPEM(certs ...[]byte) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		b.Write(bytes.TrimSpace(c))
		b.WriteByte('\n')
	}
	return b.Bytes()
}
