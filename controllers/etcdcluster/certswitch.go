package etcdcluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/controllers/internal/confirm"
	"quorum.dev/etcd-operator/controllers/pki"
	"quorum.dev/etcd-operator/controllers/render"
)

// Annotations of the CA Secret while a switch of certificate sources is
// under way (see certswitch_plan.go): its target source and the user's
// three Secrets ("server,peer,client"). The phase is always marked
// (annotationCAPhase): the Secret's data does not tell it.
const (
	annotationSwitchTo      = "etcd.quorum.dev/certificate-switch-to"
	annotationSwitchSecrets = "etcd.quorum.dev/certificate-switch-secrets"
	reasonSwitch            = "switch"
)

// Reasons of the events of a switch.
const (
	eventSwitchStarted = "CertificateSwitchStarted"
	eventSwitchPhase   = "CertificateSwitchPhase"
	eventSwitchDone    = "CertificateSwitchDone"
)

// certSwitch is what the certificates step learned of a switch this pass.
type certSwitch struct {
	// to and phase of the switch recorded on the CA Secret ("" none).
	to    etcdv1.CertificateSource
	phase etcdv1.CARotationPhase
	// running is the source the members' template mounts, runningNames
	// its Secrets; wanted is spec.tls's.
	running, wanted etcdv1.CertificateSource
	runningNames    etcdv1.TLSSecretsStatus
	// user names the user's Secrets of the switch (recorded, else the
	// spec's or the template's); secrets is what was read of them, invalid
	// why they cannot be used ("" when they can).
	user    etcdv1.TLSSecretsStatus
	secrets userSecrets
	invalid string
	// renamed: the members run on the user's Secrets and spec.tls names
	// other ones (no switch recorded); renameRefused says why the members
	// may not move to them ("" when they may: ordinary restarts).
	renamed       bool
	renameRefused string
	// userRead are the user's Secrets read this pass (a switch pending
	// or under way), for the expiry check.
	userRead []*corev1.Secret
	// caSecret as read (nil when there is none).
	caSecret *corev1.Secret
	// leavesCurrent: the Secrets members mount were found or made as the
	// phase wants them.
	leavesCurrent bool
}

// pending: the members run on another source than spec.tls asks for and
// no switch is recorded yet.
func (s *certSwitch) pending() bool {
	return s != nil && s.to == "" && s.running != "" && s.running != s.wanted
}

// recorded: a switch is under way.
func (s *certSwitch) recorded() bool { return s != nil && s.to != "" }

// copying: the operator's Secrets hold copies of the user's key pairs.
func (s *certSwitch) copying() bool {
	return (s.to == etcdv1.CertificateSourceSecrets && s.phase == etcdv1.CARotationIssueFromNew) ||
		(s.to == etcdv1.CertificateSourceOperator && s.phase == etcdv1.CARotationTrustBoth)
}

// mounts are the Secrets members mount this pass: during a switch to the
// user's Secrets the operator's until DropOld; during one to the operator
// the operator's; while one is pending those the members run on.
func (s *certSwitch) mounts(c *etcdv1.EtcdCluster) etcdv1.TLSSecretsStatus {
	own := etcdv1.TLSSecretsStatus{Source: etcdv1.CertificateSourceOperator,
		Server: c.OperatorServerSecretName(), Peer: c.OperatorPeerSecretName(), Client: c.OperatorClientSecretName()}
	switch {
	case s.to == etcdv1.CertificateSourceSecrets && s.phase == etcdv1.CARotationDropOld:
		return s.user
	case s.to != "":
		if s.copying() {
			own.Source = etcdv1.CertificateSourceSecrets
		}
		return own
	case s.running != "" && (!s.renamed || s.renameRefused != ""):
		return s.runningNames
	case s.wanted == etcdv1.CertificateSourceSecrets:
		return s.user
	}
	return own
}

// readCertSwitch reads what a switch needs: the members' template (from
// the API server when the cache has none: a new cluster must be told from
// one the cache has not seen), the CA Secret and its record, and the
// user's Secrets while a switch is pending or under way.
func (r *Reconciler) readCertSwitch(ctx context.Context, p *pass) (*certSwitch, error) {
	c := p.cluster
	sw := &certSwitch{wanted: c.CertificateSource()}
	sts := &appsv1.StatefulSet{}
	err := confirm.Get(ctx, r.Client, r.APIReader, client.ObjectKey{Namespace: c.Namespace, Name: c.StatefulSetName()}, sts)
	switch {
	case err == nil:
		sw.running, sw.runningNames = runningSource(c, &sts.Spec.Template.Spec)
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading statefulset: %w", err)
	}
	rotating := c.Status.CertificateAuthority != nil && c.Status.CertificateAuthority.Rotation != nil
	s, err := r.readSecret(ctx, c, c.CASecretName(), rotating && r.APIReader != nil)
	if err != nil {
		return nil, err
	}
	if s != nil && s.Annotations[annotationSwitchTo] != "" && !rotating && r.APIReader != nil {
		// A switch the status does not show yet: the Secret as it is now.
		if s, err = r.readSecret(ctx, c, c.CASecretName(), true); err != nil {
			return nil, err
		}
	}
	sw.caSecret = s
	if s != nil {
		if to := etcdv1.CertificateSource(s.Annotations[annotationSwitchTo]); to != "" {
			sw.to, sw.phase = to, etcdv1.CARotationPhase(s.Annotations[annotationCAPhase])
			if n := strings.Split(s.Annotations[annotationSwitchSecrets], ","); len(n) == 3 {
				sw.user = etcdv1.TLSSecretsStatus{Source: etcdv1.CertificateSourceSecrets, Server: n[0], Peer: n[1], Client: n[2]}
			}
		}
	}
	switch {
	case sw.to != "":
	case sw.wanted == etcdv1.CertificateSourceSecrets:
		sw.user = etcdv1.TLSSecretsStatus{Source: etcdv1.CertificateSourceSecrets,
			Server: c.Spec.TLS.ServerSecretName, Peer: c.Spec.TLS.PeerSecretName, Client: c.Spec.TLS.ClientSecretName}
	case sw.running == etcdv1.CertificateSourceSecrets:
		sw.user = sw.runningNames
	}
	if sw.recorded() || sw.pending() {
		got, err := r.readSecretsByName(ctx, c, sw.user.Server, sw.user.Peer, sw.user.Client)
		if err != nil {
			return nil, err
		}
		for _, name := range []string{sw.user.Server, sw.user.Peer, sw.user.Client} {
			if us := got[name]; us != nil {
				sw.userRead = append(sw.userRead, us)
			}
		}
		sw.secrets, sw.invalid = checkSwitchSecrets(c, sw.user, got, c.MemberHost(0, r.Render.Domain()), r.now())
	}
	if sw.to == "" && sw.running == etcdv1.CertificateSourceSecrets && sw.wanted == etcdv1.CertificateSourceSecrets &&
		(sw.runningNames.Server != sw.user.Server || sw.runningNames.Peer != sw.user.Peer || sw.runningNames.Client != sw.user.Client) {
		sw.renamed = true
		got, err := r.readSecretsByName(ctx, c, sw.user.Server, sw.user.Peer, sw.user.Client, sw.runningNames.Server, sw.runningNames.Peer, sw.runningNames.Client)
		if err != nil {
			return nil, err
		}
		sw.renameRefused = checkRename(c, sw.runningNames, sw.user, got, c.MemberHost(0, r.Render.Domain()), r.now())
		log.FromContext(ctx).V(1).Info("spec.tls names other user Secrets", "running", sw.runningNames, "wanted", sw.user, "refused", sw.renameRefused)
	}
	return sw, nil
}

// readSecretsByName reads the named Secrets of c's namespace from the API
// server, by name; a Secret that does not exist is absent from the map.
func (r *Reconciler) readSecretsByName(ctx context.Context, c *etcdv1.EtcdCluster, names ...string) (map[string]*corev1.Secret, error) {
	got := map[string]*corev1.Secret{}
	for _, name := range names {
		s := &corev1.Secret{}
		err := r.reader(true).Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s)
		switch {
		case err == nil:
			got[name] = s
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("reading secret %s: %w", name, err)
		}
	}
	return got, nil
}

// ensureSwitchLeaves writes the operator's three Secrets as the phase of a
// switch wants them: copies of the user's key pairs, or leaves issued by
// the signer, each with the CA Secret's bundle as ca.crt; and marks the
// copies in the trust digest (same CA Secret, other leaves: members
// restart to present them).
func (r *Reconciler) ensureSwitchLeaves(ctx context.Context, c *etcdv1.EtcdCluster, sw *certSwitch, ca *caState, now time.Time) error {
	if !sw.copying() {
		for name, req := range leafRequests(c, r.Render.Domain()) {
			if err := r.ensureLeaf(ctx, c, name, ca, req, now); err != nil {
				return err
			}
		}
		return nil
	}
	if sw.invalid != "" {
		return &specError{etcdv1.ReasonCertificateInvalid, fmt.Sprintf("the switch of certificate sources to %s (phase %s) copies the user's Secrets, but %s; it waits until this is fixed",
			sw.to, sw.phase, sw.invalid)}
	}
	ca.trust = render.Hash(ca.trust + "\ncopied from " + sw.user.Server + "," + sw.user.Peer + "," + sw.user.Client)
	for name, pair := range sw.secrets.pairs {
		s, err := r.getSecret(ctx, c, name)
		if err != nil {
			return err
		}
		if s != nil && string(s.Data[corev1.TLSCertKey]) == string(pair.CertPEM) && string(s.Data[corev1.TLSPrivateKeyKey]) == string(pair.KeyPEM) &&
			string(s.Data[keyCACert]) == string(ca.bundle) {
			continue
		}
		log.FromContext(ctx).V(1).Info("copying the user's key pair", "secret", name, "phase", sw.phase)
		if err := r.writeSecret(ctx, c, s, name, pair, ca.bundle); err != nil {
			return err
		}
	}
	return nil
}

// switchStatus records the switch in status.certificateAuthority.rotation.
func switchStatus(c *etcdv1.EtcdCluster, sw *certSwitch) {
	if c.Status.CertificateAuthority == nil {
		c.Status.CertificateAuthority = &etcdv1.CertificateAuthorityStatus{}
	}
	from := etcdv1.CertificateSourceOperator
	if sw.to == etcdv1.CertificateSourceOperator {
		from = etcdv1.CertificateSourceSecrets
	}
	rot := &etcdv1.CARotationStatus{Phase: sw.phase, Reason: reasonSwitch, From: from, To: sw.to}
	if t, err := time.Parse(time.RFC3339, sw.caSecret.Annotations[annotationCAStart]); err == nil {
		rot.StartTime = &metav1.Time{Time: t}
	}
	c.Status.CertificateAuthority.Rotation = rot
}

// switchCertificates carries out the next move of a switch of certificate
// sources (advanceCertSwitch decides): records its start on the CA Secret
// with the composed bundle, moves it to its next phase, or ends it. The
// Secrets follow in the next pass's certificates step, the restarts are
// the rollout step's.
func (r *Reconciler) switchCertificates(ctx context.Context, p *pass) error {
	c, sw := p.cluster, p.certSwitch
	if sw != nil && sw.renameRefused != "" {
		p.switchRefused = sw.renameRefused
	}
	if sw == nil || (!sw.recorded() && !sw.pending()) || p.sts == nil {
		return nil
	}
	if !sw.recorded() && sw.wanted == etcdv1.CertificateSourceSecrets && p.ca == nil {
		return nil // the operator's CA, whose bundle the switch starts from, was not read
	}
	want := ""
	if p.ca != nil {
		want = p.ca.trust
	}
	in := switchInput{
		Recorded: sw.to, Phase: sw.phase, Running: sw.running, Wanted: sw.wanted, Invalid: sw.invalid,
		LeavesCurrent: sw.leavesCurrent,
		RolledOut: rolledOut(p) && p.sts.Spec.Template.Annotations[AnnotationCATrust] == want &&
			mountedServerSecret(p.sts) == c.ServerSecretName(),
		AllHealthy: p.client != nil && p.obs.quorate() && len(p.obs.list) > 0 &&
			len(p.obs.statuses) == len(p.obs.list) && p.obs.healthyCount() == len(p.obs.list),
		Busy: restartsBusy(p),
	}
	if !sw.recorded() && p.ca != nil {
		in.Rotating = caPhaseOf(p.ca.next != nil, p.ca.size, etcdv1.CARotationPhase(p.ca.secret.Annotations[annotationCAPhase]))
	}
	step := advanceCertSwitch(in)
	log.FromContext(ctx).V(1).Info("certificate switch decision", "to", sw.to, "phase", sw.phase, "running", sw.running, "wanted", sw.wanted,
		"invalid", sw.invalid, "leavesCurrent", in.LeavesCurrent, "rolledOut", in.RolledOut, "allHealthy", in.AllHealthy, "busy", in.Busy,
		"action", step.Action, "message", step.Message)
	if step.Refused {
		p.switchRefused = step.Message
		return nil
	}
	p.switchMessage = step.Message
	if step.Action == caNothing {
		return nil
	}
	now := r.now()
	if step.Action == caFinish && sw.to == etcdv1.CertificateSourceSecrets {
		// Nothing trusts the operator's CA any more: its Secrets go, the
		// CA Secret (the record) last.
		for _, name := range []string{c.OperatorServerSecretName(), c.OperatorPeerSecretName(), c.OperatorClientSecretName(), c.CASecretName()} {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace}}
			if err := r.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("certificate switch: deleting secret %s: %w", name, err)
			}
		}
		c.Status.CertificateAuthority = nil
		p.switchMessage = ""
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventSwitchDone, "CertificateSwitch", "%s; the operator's CA and its Secrets are deleted", step.Message)
		return nil
	}
	s, err := r.switchSecret(c, sw, p.ca, step.Action, now)
	if err != nil {
		return err
	}
	if s.ResourceVersion == "" {
		err = r.Create(ctx, s)
	} else {
		err = r.Update(ctx, s)
	}
	if err != nil {
		return fmt.Errorf("certificate switch: writing secret %s: %w", s.Name, err)
	}
	switch step.Action {
	case caStart:
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventSwitchStarted, "CertificateSwitch", "%s", step.Message)
	case caFinish:
		p.switchMessage = ""
		c.Status.CertificateAuthority.Rotation = nil
		c.Status.CertificateAuthority.LastRotationTime = &metav1.Time{Time: now}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventSwitchDone, "CertificateSwitch", "%s", step.Message)
		return nil
	default:
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, eventSwitchPhase, "CertificateSwitch", "%s", step.Message)
	}
	sw.caSecret = s
	sw.to, sw.phase = etcdv1.CertificateSource(s.Annotations[annotationSwitchTo]), etcdv1.CARotationPhase(s.Annotations[annotationCAPhase])
	switchStatus(c, sw)
	return nil
}

// switchSecret is the CA Secret after action: a start records the target,
// the user's Secrets and the bundle of both sources' CAs (for a switch to
// the operator, with a new CA that signs); DropOld of a switch to the
// operator leaves its CA alone in ca.crt; finish clears the record.
func (r *Reconciler) switchSecret(c *etcdv1.EtcdCluster, sw *certSwitch, ca *caState, action caAction, now time.Time) (*corev1.Secret, error) {
	var s *corev1.Secret
	switch {
	case sw.caSecret != nil:
		s = sw.caSecret.DeepCopy()
	default:
		s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: c.CASecretName(), Namespace: c.Namespace, Labels: c.Labels()}, Type: corev1.SecretTypeTLS}
		if err := controllerutil.SetControllerReference(c, s, r.Scheme); err != nil {
			return nil, err
		}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	switch action {
	case caStart:
		if sw.wanted == etcdv1.CertificateSourceOperator {
			next, err := pki.NewCA(caCommonName(c), now, caValidity)
			if err != nil {
				return nil, err
			}
			s.Data = map[string][]byte{corev1.TLSCertKey: next.CertPEM, corev1.TLSPrivateKeyKey: next.KeyPEM,
				keyCACert: joinPEM(sw.secrets.ca, next.CertPEM)}
		} else {
			s.Data[keyCACert] = joinPEM(ca.bundle, sw.secrets.ca)
		}
		s.Annotations[annotationSwitchTo] = string(sw.wanted)
		s.Annotations[annotationSwitchSecrets] = strings.Join([]string{sw.user.Server, sw.user.Peer, sw.user.Client}, ",")
		s.Annotations[annotationCAPhase] = string(etcdv1.CARotationTrustBoth)
		s.Annotations[annotationCARotated] = "true"
		s.Annotations[annotationCAStart] = now.UTC().Format(time.RFC3339)
		s.Annotations[annotationCAReason] = reasonSwitch
	case caPromote:
		s.Annotations[annotationCAPhase] = string(etcdv1.CARotationIssueFromNew)
	case caDropOld:
		if sw.to == etcdv1.CertificateSourceOperator {
			s.Data[keyCACert] = joinPEM(s.Data[corev1.TLSCertKey])
		}
		s.Annotations[annotationCAPhase] = string(etcdv1.CARotationDropOld)
	case caFinish:
		for _, k := range []string{annotationSwitchTo, annotationSwitchSecrets, annotationCAPhase, annotationCAStart, annotationCAReason} {
			delete(s.Annotations, k)
		}
	}
	return s, nil
}

// mountedServerSecret is the Secret a StatefulSet's members mount as
// their server certificate ("" without one).
func mountedServerSecret(sts *appsv1.StatefulSet) string {
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Name == "server-tls" && v.Secret != nil {
			return v.Secret.SecretName
		}
	}
	return ""
}

// restartsBusy names another operation that the restarts of a CA rotation
// or a switch must not race ("" when none).
func restartsBusy(p *pass) string {
	switch {
	case p.cluster.TLSMigrating() != "":
		return "the TLS migration"
	case p.inPlace != nil:
		return "the in-place restore"
	case p.stsReplacing:
		return "the StatefulSet's replacement"
	case p.rolloutHalt != nil:
		return "the halted rollout to be resolved"
	}
	return ""
}
