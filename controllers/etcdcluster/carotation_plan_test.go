package etcdcluster

import (
	"strings"
	"testing"
	"time"

	etcdv1 "quorum.dev/etcd-operator/api/v1alpha1"
)

func TestCAPhaseOf(t *testing.T) {
	cases := []struct {
		name    string
		hasNext bool
		bundle  int
		marked  etcdv1.CARotationPhase
		want    etcdv1.CARotationPhase
	}{
		{"no rotation", false, 1, "", ""},
		{"next CA kept: trust both", true, 2, "", etcdv1.CARotationTrustBoth},
		{"next CA kept, a stale DropOld mark", true, 2, etcdv1.CARotationDropOld, etcdv1.CARotationTrustBoth},
		{"next written, bundle not yet (interrupted start)", true, 1, "", etcdv1.CARotationTrustBoth},
		{"new CA signs, bundle of two", false, 2, etcdv1.CARotationTrustBoth, etcdv1.CARotationIssueFromNew},
		{"bundle of two, no mark", false, 2, "", etcdv1.CARotationIssueFromNew},
		{"old dropped, marked", false, 1, etcdv1.CARotationDropOld, etcdv1.CARotationDropOld},
		{"old dropped, mark removed: done", false, 1, "", ""},
		{"a TrustBoth mark on an idle Secret (edited by hand): idle", false, 1, etcdv1.CARotationTrustBoth, ""},
	}
	for _, tc := range cases {
		if got := caPhaseOf(tc.hasNext, tc.bundle, tc.marked); got != tc.want {
			t.Errorf("%s: caPhaseOf = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestAdvanceCARotation(t *testing.T) {
	now := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	far := now.Add(5 * 365 * 24 * time.Hour)
	ready := func(in caInput) caInput { in.LeavesCurrent, in.RolledOut, in.AllHealthy = true, true, true; return in }
	cases := []struct {
		name   string
		in     caInput
		action caAction
		reason string
		msg    string
	}{
		{"idle, CA far from expiry", ready(caInput{Now: now, NotAfter: far}), caNothing, "", ""},
		{"idle, CA expiry unknown", ready(caInput{Now: now}), caNothing, "", ""},
		{"one day before the rule", ready(caInput{Now: now, NotAfter: now.Add(caRotateBefore + 24*time.Hour)}), caNothing, "", ""},
		{"exactly at the rule", ready(caInput{Now: now, NotAfter: now.Add(caRotateBefore)}), caStart, "expiring", "1/3 TrustBoth"},
		{"inside the leaves' 30-day window", ready(caInput{Now: now, NotAfter: now.Add(20 * 24 * time.Hour)}), caStart, "expiring", "TrustBoth"},
		{"CA already expired", ready(caInput{Now: now, NotAfter: now.Add(-time.Hour)}), caStart, "expiring", "TrustBoth"},
		{"requested", ready(caInput{Now: now, NotAfter: far, Request: "t1"}), caStart, "requested", "(requested)"},
		{"requested while members restart: start anyway, restarts are health-gated", caInput{Now: now, NotAfter: far, Request: "t1"}, caStart, "requested", "TrustBoth"},
		{"requested during a TLS migration: wait", ready(caInput{Now: now, NotAfter: far, Request: "t1", Busy: "the TLS migration"}), caNothing, "", "waits for the TLS migration"},
		{"expiring during an in-place restore: wait", ready(caInput{Now: now, NotAfter: now, Busy: "the in-place restore"}), caNothing, "", "waits for the in-place restore"},
		{"TrustBoth, Secrets not yet updated", caInput{Now: now, Phase: etcdv1.CARotationTrustBoth, RolledOut: true, AllHealthy: true}, caNothing, "", "updating the certificate Secrets"},
		{"TrustBoth, restarting", caInput{Now: now, Phase: etcdv1.CARotationTrustBoth, LeavesCurrent: true, AllHealthy: true}, caNothing, "", "restarting members"},
		{"TrustBoth, rolled out, a member unhealthy", caInput{Now: now, Phase: etcdv1.CARotationTrustBoth, LeavesCurrent: true, RolledOut: true}, caNothing, "", "healthy"},
		{"TrustBoth done", ready(caInput{Now: now, Phase: etcdv1.CARotationTrustBoth}), caPromote, "", "2/3 IssueFromNew"},
		{"TrustBoth goes on during a TLS migration's start (never restarted twice)", ready(caInput{Now: now, Phase: etcdv1.CARotationTrustBoth, Busy: "x"}), caPromote, "", "IssueFromNew"},
		{"IssueFromNew, leaves not re-issued yet", caInput{Now: now, Phase: etcdv1.CARotationIssueFromNew, RolledOut: true, AllHealthy: true}, caNothing, "", "updating"},
		{"IssueFromNew, restarting", caInput{Now: now, Phase: etcdv1.CARotationIssueFromNew, LeavesCurrent: true}, caNothing, "", "restarting"},
		{"IssueFromNew done", ready(caInput{Now: now, Phase: etcdv1.CARotationIssueFromNew}), caDropOld, "", "3/3 DropOld"},
		{"DropOld, restarting", caInput{Now: now, Phase: etcdv1.CARotationDropOld, LeavesCurrent: true, AllHealthy: true}, caNothing, "", "trust the new CA only"},
		{"DropOld done", ready(caInput{Now: now, Phase: etcdv1.CARotationDropOld}), caFinish, "", "done"},
		{"DropOld done, the new CA near expiry is not rotated again at once", ready(caInput{Now: now, Phase: etcdv1.CARotationDropOld, NotAfter: now}), caFinish, "", "done"},
	}
	for _, tc := range cases {
		got := advanceCARotation(tc.in)
		if got.Action != tc.action || got.Reason != tc.reason || !strings.Contains(got.Message, tc.msg) || (tc.msg == "" && got.Message != "") {
			t.Errorf("%s: advanceCARotation = %+v, want action %q reason %q message containing %q", tc.name, got, tc.action, tc.reason, tc.msg)
		}
	}
}
