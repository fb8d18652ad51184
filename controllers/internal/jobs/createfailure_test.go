package jobs

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Notes as the Job controller records them (seen on a real cluster: a
// namespace with a ResourceQuota of pods: 0).
const (
	quotaNote = `Error creating: pods "b-backup-x7k2p" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0`
	psaNote   = `Error creating: pods "b-backup-4tq9z" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "backup" must set securityContext.allowPrivilegeEscalation=false)`
	saNote    = `Error creating: pods "b-backup-9wq1c" is forbidden: error looking up service account ns/backup-sa: serviceaccount "backup-sa" not found`
)

// jobEvent is an event as the Job controller's core/v1 recorder leaves it,
// read through events.k8s.io/v1: no eventTime, a deprecatedLastTimestamp.
func jobEvent(name string, uid types.UID, typ, reason, note string, at time.Time) eventsv1.Event {
	return eventsv1.Event{
		ObjectMeta:              metav1.ObjectMeta{Name: name + ".1", Namespace: "ns", CreationTimestamp: metav1.NewTime(at)},
		Regarding:               corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: "ns", Name: name, UID: uid},
		Type:                    typ,
		Reason:                  reason,
		Note:                    note,
		DeprecatedLastTimestamp: metav1.NewTime(at),
		ReportingController:     "job-controller",
	}
}

func TestCreateFailure(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 2, 5, 6, 0, time.UTC)
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "b-backup", Namespace: "ns", UID: "u1"}}
	warn, normal := corev1.EventTypeWarning, corev1.EventTypeNormal
	repeated := jobEvent("b-backup", "u1", warn, ReasonFailedCreate, quotaNote, t0)
	repeated.DeprecatedLastTimestamp = metav1.Time{}
	repeated.Series = &eventsv1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(t0.Add(3 * time.Minute))}
	cases := []struct {
		name string
		evs  []eventsv1.Event
		want string // "" or a substring the cause must contain
	}{
		{"no events", nil, ""},
		{"a quota refusal, without the recorder's prefix",
			[]eventsv1.Event{jobEvent("b-backup", "u1", warn, ReasonFailedCreate, quotaNote, t0)},
			`pods "b-backup-x7k2p" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0`},
		{"the newest refusal wins",
			[]eventsv1.Event{
				jobEvent("b-backup", "u1", warn, ReasonFailedCreate, psaNote, t0.Add(time.Second)),
				jobEvent("b-backup", "u1", warn, ReasonFailedCreate, saNote, t0),
			}, `violates PodSecurity "restricted:latest"`},
		{"a pod created after the refusal ends it",
			[]eventsv1.Event{
				jobEvent("b-backup", "u1", warn, ReasonFailedCreate, quotaNote, t0),
				jobEvent("b-backup", "u1", normal, ReasonSuccessfulCreate, "Created pod: b-backup-abcde", t0.Add(time.Minute)),
			}, ""},
		{"a pod created in the same second as the refusal ends it",
			[]eventsv1.Event{
				jobEvent("b-backup", "u1", normal, ReasonSuccessfulCreate, "Created pod: b-backup-abcde", t0),
				jobEvent("b-backup", "u1", warn, ReasonFailedCreate, quotaNote, t0),
			}, ""},
		{"a refusal after a pod was created counts",
			[]eventsv1.Event{
				jobEvent("b-backup", "u1", normal, ReasonSuccessfulCreate, "Created pod: b-backup-abcde", t0),
				jobEvent("b-backup", "u1", warn, ReasonFailedCreate, saNote, t0.Add(time.Minute)),
			}, `serviceaccount "backup-sa" not found`},
		{"a series' last observation is its time",
			[]eventsv1.Event{
				jobEvent("b-backup", "u1", normal, ReasonSuccessfulCreate, "Created pod: b-backup-abcde", t0.Add(time.Minute)),
				repeated,
			}, "exceeded quota: q"},
		{"the aggregator's combined note",
			[]eventsv1.Event{jobEvent("b-backup", "u1", warn, ReasonFailedCreate, "(combined from similar events): "+quotaNote, t0)},
			`pods "b-backup-x7k2p" is forbidden: exceeded quota`},
		{"another Job of the same name (an older UID) does not count",
			[]eventsv1.Event{jobEvent("b-backup", "u0", warn, ReasonFailedCreate, quotaNote, t0)}, ""},
		{"another Job does not count",
			[]eventsv1.Event{jobEvent("other", "u2", warn, ReasonFailedCreate, quotaNote, t0)}, ""},
		{"a Normal event of the same reason does not count",
			[]eventsv1.Event{jobEvent("b-backup", "u1", normal, ReasonFailedCreate, quotaNote, t0)}, ""},
		{"other reasons do not count",
			[]eventsv1.Event{jobEvent("b-backup", "u1", warn, "DeadlineExceeded", "Job was active longer than specified deadline", t0)}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := CreateFailure(job, tc.evs)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("CreateFailure = %q, want %q", got, tc.want)
			}
			if strings.HasPrefix(got, "Error creating") || strings.HasPrefix(got, "(combined") {
				t.Errorf("the recorder's prefix is kept: %q", got)
			}
		})
	}
}

func TestCreateFailureBounded(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns"}}
	long := "Error creating: " + strings.Repeat("violates\n  PodSecurity ", 100)
	got := CreateFailure(job, []eventsv1.Event{jobEvent("j", "any", corev1.EventTypeWarning, ReasonFailedCreate, long, time.Now())})
	if len(got) > maxCreateFailure+len("…") || strings.Contains(got, "\n") || !strings.HasPrefix(got, "violates PodSecurity violates") {
		t.Fatalf("not one bounded line: %q", got)
	}
}

func TestUnfinished(t *testing.T) {
	p := func(ph corev1.PodPhase) corev1.Pod { return corev1.Pod{Status: corev1.PodStatus{Phase: ph}} }
	if Unfinished(nil) || Unfinished([]corev1.Pod{p(corev1.PodFailed), p(corev1.PodSucceeded)}) {
		t.Error("no pod, or ended pods, read as unfinished")
	}
	if !Unfinished([]corev1.Pod{p(corev1.PodFailed), p(corev1.PodPending)}) || !Unfinished([]corev1.Pod{p("")}) {
		t.Error("a pending pod reads as finished")
	}
}
