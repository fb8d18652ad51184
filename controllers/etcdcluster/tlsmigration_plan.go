package etcdcluster

import (
	"fmt"
	"sort"
	"strings"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
	"quorum.dev/etcd-operator/internal/contract"
)

// Turning TLS on for a running cluster (spec.tls.enabled false → true)
// moves its members from http to https without a lost write and without
// losing a quorum: no member ever stops serving a scheme that another
// member or the operator still uses. etcd serves one client port in both
// schemes (listen-client-urls naming it as http and https), but a peer
// listener has one scheme, so peers move through a second port,
// contract.PeerMigrationPort. The phases (status.tlsMigration.phase):
//
//  1. ListenHTTPS: certificates are issued as for a new TLS cluster; a
//     rolling restart (health-gated, leader last: the rollout step) makes
//     every member serve clients on http and https and peers on http
//     (PeerPort) and https (PeerMigrationPort), still advertising http.
//  2. MovePeersToTLSPort: one member per pass, its peer URL becomes
//     https://<member>:PeerMigrationPort (etcd MemberUpdate).
//  3. AdvertiseHTTPS: a rolling restart makes every member serve peers on
//     https at both ports and advertise https; clients are served on both
//     schemes still. The operator talks https from here on.
//  4. MovePeersBack: one member per pass, its peer URL becomes
//     https://<member>:PeerPort.
//  5. DropHTTP: a rolling restart into the plain TLS template; http is
//     refused from then on. The migration ends when it has rolled out.
//
// Membership changes wait for the migration. Each phase is recorded in
// the status before anything of the next is done, and every step is safe
// to repeat, so an operator restarted mid-way resumes; with the status
// lost, the StatefulSet's template tells the phase (startTLSMigration).

// tlsPhaseOrder is the order of the phases.
var tlsPhaseOrder = []etcdv1.TLSMigrationPhase{
	etcdv1.TLSMigrationListenHTTPS, etcdv1.TLSMigrationMovePeersToTLSPort, etcdv1.TLSMigrationAdvertiseHTTPS,
	etcdv1.TLSMigrationMovePeersBack, etcdv1.TLSMigrationDropHTTP,
}

// nextTLSPhase is the phase after ph, "" after the last.
func nextTLSPhase(ph etcdv1.TLSMigrationPhase) etcdv1.TLSMigrationPhase {
	for i, p := range tlsPhaseOrder {
		if p == ph && i+1 < len(tlsPhaseOrder) {
			return tlsPhaseOrder[i+1]
		}
	}
	return ""
}

// startTLSMigration decides the phase before anything is rendered. Pure.
// phase is status.tlsMigration's; stsExists, templateTLS and templateStep
// describe the StatefulSet's current template (whether it serves TLS, and
// its QUORUM_TLS_MIGRATION). A recorded phase goes on; with none, a
// StatefulSet without TLS under a spec with TLS is a running cluster that
// just had TLS turned on, and a template in a migration step is one whose
// recorded phase was lost. A cluster without a StatefulSet yet is created
// with TLS directly.
func startTLSMigration(specTLS bool, phase etcdv1.TLSMigrationPhase, stsExists, templateTLS bool, templateStep string) etcdv1.TLSMigrationPhase {
	switch {
	case !specTLS:
		return ""
	case phase != "":
		return phase
	case !stsExists:
		return ""
	case templateStep == contract.TLSMigrationListen:
		return etcdv1.TLSMigrationListenHTTPS
	case templateStep == contract.TLSMigrationAdvertise:
		return etcdv1.TLSMigrationAdvertiseHTTPS
	case !templateTLS:
		return etcdv1.TLSMigrationListenHTTPS
	}
	return ""
}

// tlsMember is what advanceTLSMigration needs of a member.
type tlsMember struct {
	ID       uint64
	Name     string
	PeerURLs []string
	// Want is its peer URL at the end of the current phase; "" when the
	// member matches no ordinal of the cluster (it is not touched).
	Want string
}

// tlsInput is the observed state advanceTLSMigration decides from.
type tlsInput struct {
	Phase etcdv1.TLSMigrationPhase
	// RolledOut: the StatefulSet's template is the phase's, every pod
	// exists, is ready and runs it.
	RolledOut bool
	// AllHealthy: etcd answered, a quorum with a leader, and every member
	// answered a status request.
	AllHealthy bool
	// Outdated pods still to restart (for the message).
	Outdated int
	Members  []tlsMember
}

// tlsStep is the next move of a TLS migration.
type tlsStep struct {
	// Phase after this pass; "" when the migration is over.
	Phase etcdv1.TLSMigrationPhase
	// Update: move this member's peer URL to URL this pass.
	Update *tlsMember
	// Message for the Progressing condition: the step and what comes next.
	Message string
}

// advanceTLSMigration chooses the next move of a TLS migration. Pure.
// A rolling-restart phase ends once it has rolled out and every member is
// healthy; a peer-URL phase moves one member per pass, only while every
// member is healthy, in name order, and ends once every member's peer URL
// is the phase's.
func advanceTLSMigration(in tlsInput) tlsStep {
	stay := func(format string, a ...any) tlsStep {
		return tlsStep{Phase: in.Phase, Message: fmt.Sprintf("turning TLS on, phase %s: ", in.Phase) + fmt.Sprintf(format, a...)}
	}
	next := nextTLSPhase(in.Phase)
	switch in.Phase {
	case etcdv1.TLSMigrationListenHTTPS, etcdv1.TLSMigrationAdvertiseHTTPS, etcdv1.TLSMigrationDropHTTP:
		what := map[etcdv1.TLSMigrationPhase]string{
			etcdv1.TLSMigrationListenHTTPS:    "members restart one at a time to serve https besides http",
			etcdv1.TLSMigrationAdvertiseHTTPS: "members restart one at a time to advertise https (http clients still served)",
			etcdv1.TLSMigrationDropHTTP:       "members restart one at a time with TLS only",
		}[in.Phase]
		if !in.RolledOut || !in.AllHealthy {
			if in.Outdated > 0 {
				return stay("%s (%d left); next: %s", what, in.Outdated, describeTLSPhase(next))
			}
			return stay("%s; waiting for every member to be ready and healthy; next: %s", what, describeTLSPhase(next))
		}
		if next == "" {
			return tlsStep{Message: "TLS is on: every member serves https only"}
		}
		return tlsStep{Phase: next, Message: fmt.Sprintf("turning TLS on: phase %s done, next: %s", in.Phase, describeTLSPhase(next))}
	case etcdv1.TLSMigrationMovePeersToTLSPort, etcdv1.TLSMigrationMovePeersBack:
		members := append([]tlsMember(nil), in.Members...)
		sort.Slice(members, func(i, j int) bool { return members[i].Name < members[j].Name })
		var todo []tlsMember
		for _, m := range members {
			if m.Want != "" && !(len(m.PeerURLs) == 1 && m.PeerURLs[0] == m.Want) {
				todo = append(todo, m)
			}
		}
		if len(todo) == 0 {
			return tlsStep{Phase: next, Message: fmt.Sprintf("turning TLS on: every peer URL moved (phase %s done), next: %s", in.Phase, describeTLSPhase(next))}
		}
		if !in.AllHealthy {
			return stay("waiting for every member to be healthy before moving the peer URL of %s (%d left)", todo[0].Name, len(todo))
		}
		m := todo[0]
		return tlsStep{Phase: in.Phase, Update: &m, Message: fmt.Sprintf("turning TLS on, phase %s: moving the peer URL of %s from %s to %s (%d left); next: %s",
			in.Phase, m.Name, strings.Join(m.PeerURLs, ","), m.Want, len(todo), describeTLSPhase(next))}
	}
	return tlsStep{Phase: in.Phase, Message: fmt.Sprintf("unknown TLS migration phase %q", in.Phase)}
}

// describeTLSPhase says what a phase does, for messages.
func describeTLSPhase(ph etcdv1.TLSMigrationPhase) string {
	switch ph {
	case etcdv1.TLSMigrationMovePeersToTLSPort:
		return fmt.Sprintf("%s (peer URLs move to https port %d, one member at a time)", ph, contract.PeerMigrationPort)
	case etcdv1.TLSMigrationAdvertiseHTTPS:
		return fmt.Sprintf("%s (members restart to advertise https)", ph)
	case etcdv1.TLSMigrationMovePeersBack:
		return fmt.Sprintf("%s (peer URLs move back to port %d, now https)", ph, contract.PeerPort)
	case etcdv1.TLSMigrationDropHTTP:
		return fmt.Sprintf("%s (members restart with TLS only)", ph)
	case "":
		return "done"
	}
	return string(ph)
}

// tlsPeerURL is the peer URL member ordinal o has at the end of phase ph
// (the peer-URL phases), "" for other phases.
func tlsPeerURL(c *etcdv1.EtcdCluster, o int, domain string, ph etcdv1.TLSMigrationPhase) string {
	switch ph {
	case etcdv1.TLSMigrationMovePeersToTLSPort:
		return fmt.Sprintf("https://%s:%d", c.MemberHost(o, domain), contract.PeerMigrationPort)
	case etcdv1.TLSMigrationMovePeersBack:
		return fmt.Sprintf("https://%s:%d", c.MemberHost(o, domain), contract.PeerPort)
	}
	return ""
}
