package etcdcluster

import (
	"fmt"
	"time"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

// Rotating the operator's CA replaces the CA that signs a cluster's
// certificates without a moment in which two parties that talk to each
// other disagree on trust. quorum-etcd reads its trusted CAs once, at
// start (etcd's transport builds the pool when it listens; only the leaf
// files are re-read on every handshake), so new trust reaches a member
// through a restart: health-gated, one member at a time, leader last (the
// rollout step), driven by a pod template annotation that digests the CA
// Secret (caTrustAnnotation). The phases
// (status.certificateAuthority.rotation.phase):
//
//  1. TrustBoth: a new CA is made and kept beside the old one in the CA
//     Secret (next.crt, next.key); every Secret's ca.crt becomes the
//     bundle old+new (the client Secret's too, so the operator and
//     applications reading it trust both); members restart to trust both.
//     Leaves are still signed by the old CA.
//  2. IssueFromNew: the new CA signs (tls.crt, tls.key); the three leaf
//     certificates are re-issued from it; members restart to present
//     them. ca.crt still holds both CAs, so a member not yet restarted
//     (presenting an old leaf) and one already restarted trust each other.
//  3. DropOld: ca.crt holds the new CA only; members restart to stop
//     trusting the old one. The rotation ends when that has rolled out.
//
// A phase moves on only when every leaf Secret matches the CA Secret, the
// restart has rolled out and every member is healthy. Every phase is read
// back from the CA Secret alone (caPhaseOf: its data, and for DropOld an
// annotation), so an operator restarted mid-way, or a pass that read the
// cluster from before its last status patch, resumes; the status is
// rendered from the Secret.
//
// The rule for automatic rotation: the CA is rotated when less than
// caRotateBefore (90 days) of it is left. Leaves are renewed 30 days before
// they expire and never outlive their CA, so the new CA is in place 60
// days before any leaf would have to expire with the old one. A CA is
// valid for 10 years (caValidity).
const caRotateBefore = 90 * 24 * time.Hour

// caPhaseOf reads the phase from the CA Secret: a next CA kept beside the
// signer is TrustBoth; a bundle of more than the signer is IssueFromNew;
// otherwise DropOld marked on the Secret goes on until it has rolled out;
// else no rotation is under way ("").
func caPhaseOf(hasNext bool, bundleSize int, marked etcdv1.CARotationPhase) etcdv1.CARotationPhase {
	switch {
	case hasNext:
		return etcdv1.CARotationTrustBoth
	case bundleSize > 1:
		return etcdv1.CARotationIssueFromNew
	case marked == etcdv1.CARotationDropOld:
		return etcdv1.CARotationDropOld
	}
	return ""
}

// caAction is what advanceCARotation asks the reconciler to do.
type caAction string

const (
	caNothing caAction = ""
	// caStart makes a new CA and keeps it as next; ca.crt = old+new.
	caStart caAction = "start"
	// caPromote makes next the signer; ca.crt stays old+new.
	caPromote caAction = "promote"
	// caDropOld makes ca.crt the signer alone.
	caDropOld caAction = "drop-old"
	// caFinish clears the record of the rotation.
	caFinish caAction = "finish"
)

// caInput is the observed state advanceCARotation decides from.
type caInput struct {
	Now time.Time
	// Phase is caPhaseOf's.
	Phase etcdv1.CARotationPhase
	// NotAfter of the CA that signs now.
	NotAfter time.Time
	// Request is the annotation's value when it differs from the handled
	// one ("" when there is none or it was handled).
	Request string
	// LeavesCurrent: every leaf Secret is signed by the signing CA and its
	// ca.crt is the CA Secret's bundle.
	LeavesCurrent bool
	// RolledOut: the StatefulSet's template carries the CA Secret's
	// digest, and every pod exists, is ready and runs it.
	RolledOut bool
	// AllHealthy: etcd answered, a quorum with a leader, and every member
	// answered a status request.
	AllHealthy bool
	// Busy names another operation that members restarts must not race
	// (a TLS migration, an in-place restore); "" when none.
	Busy string
}

// caStep is the next move of a CA rotation.
type caStep struct {
	Action caAction
	// Reason of a start: "requested" or "expiring".
	Reason string
	// Message for the Progressing condition and the event: the step and
	// what comes next; "" when no rotation is under way or starting.
	Message string
}

// advanceCARotation chooses the next move of a CA rotation. Pure. A
// rotation starts when one is requested or the CA has less than
// caRotateBefore left, and not while another operation restarts members
// (the restarts it causes are health-gated by the rollout step);
// each phase moves on once its restart has rolled out to healthy members
// (see the phases above).
func advanceCARotation(in caInput) caStep {
	ready := in.LeavesCurrent && in.RolledOut && in.AllHealthy
	wait := func(what string) caStep {
		switch {
		case !in.LeavesCurrent:
			return caStep{Message: what + ": updating the certificate Secrets"}
		case !in.RolledOut:
			return caStep{Message: what + ": restarting members one at a time, leader last"}
		}
		return caStep{Message: what + ": waiting for every member to be healthy"}
	}
	switch in.Phase {
	case "":
		reason := ""
		switch {
		case in.Request != "":
			reason = "requested"
		case !in.NotAfter.IsZero() && !in.Now.Before(in.NotAfter.Add(-caRotateBefore)):
			reason = "expiring"
		default:
			return caStep{}
		}
		// Starting only writes Secrets and a template the rollout step
		// restarts members into, health-gated: no health is needed here.
		if in.Busy != "" {
			return caStep{Message: fmt.Sprintf("CA rotation (%s) waits for %s", reason, in.Busy)}
		}
		return caStep{Action: caStart, Reason: reason, Message: fmt.Sprintf(
			"CA rotation (%s) 1/3 TrustBoth: a new CA is trusted beside the old one; members restart one at a time, leader last", reason)}
	case etcdv1.CARotationTrustBoth:
		if !ready {
			return wait("CA rotation 1/3 TrustBoth: members are to trust the old and the new CA")
		}
		return caStep{Action: caPromote, Message: "CA rotation 2/3 IssueFromNew: the new CA signs; certificates are re-issued from it and members restart to present them"}
	case etcdv1.CARotationIssueFromNew:
		if !ready {
			return wait("CA rotation 2/3 IssueFromNew: members are to present certificates from the new CA")
		}
		return caStep{Action: caDropOld, Message: "CA rotation 3/3 DropOld: the old CA is no longer trusted; members restart to drop it"}
	case etcdv1.CARotationDropOld:
		if !ready {
			return wait("CA rotation 3/3 DropOld: members are to trust the new CA only")
		}
		return caStep{Action: caFinish, Message: "CA rotation done: every member presents a certificate from the new CA and trusts it alone"}
	}
	return caStep{}
}
