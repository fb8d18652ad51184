package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=list

// The reasons of the events the Job controller records on a Job when it
// creates a pod (k8s.io/kubernetes pkg/controller, FailedCreatePodReason and
// SuccessfulCreatePodReason). A refused create gives no Job condition: the
// event is the only trace. Its note is "Error creating: " followed by the
// API server's refusal, e.g.
//
//	Error creating: pods "b-backup-x7k2p" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0
//	Error creating: pods "b-backup-x7k2p" is forbidden: violates PodSecurity "restricted:latest": ...
const (
	ReasonFailedCreate     = "FailedCreate"
	ReasonSuccessfulCreate = "SuccessfulCreate"
)

// Prefixes the event recorder puts before the refusal: the Job controller's
// own, and the one client-go's event aggregator writes once it has combined
// ten similar events (a refusal names a new pod each time).
const (
	failedCreatePrefix = "Error creating: "
	combinedPrefix     = "(combined from similar events): "
)

// maxCreateFailure bounds the quoted refusal, so a condition message stays
// readable (a PodSecurity refusal lists every violated rule).
const maxCreateFailure = 400

// CreateFailure is why the Job controller cannot create job's pod, read
// from events regarding job: the note of the newest Warning FailedCreate
// event, without its "Error creating: " prefix, in one line of at most
// maxCreateFailure characters. It is "" when there is no such event, or
// when a SuccessfulCreate event is at least as new (a pod was created
// since). Events regarding another object, or another Job of the same name
// (another UID), do not count. An event's time is the newest of its
// series' last observation, its deprecatedLastTimestamp (events recorded
// through core/v1, as the Job controller does), its eventTime and its
// creation. Pure.
func CreateFailure(job *batchv1.Job, evs []eventsv1.Event) string {
	var failedAt, createdAt time.Time
	note, failed := "", false
	for i := range evs {
		e := &evs[i]
		if e.Regarding.Kind != "Job" || e.Regarding.Name != job.Name || (job.UID != "" && e.Regarding.UID != "" && e.Regarding.UID != job.UID) {
			continue
		}
		at := eventTime(e)
		switch {
		case e.Reason == ReasonFailedCreate && e.Type == corev1.EventTypeWarning:
			if !failed || at.After(failedAt) {
				failedAt, note, failed = at, e.Note, true
			}
		case e.Reason == ReasonSuccessfulCreate:
			if at.After(createdAt) {
				createdAt = at
			}
		}
	}
	if !failed || (!createdAt.IsZero() && !failedAt.After(createdAt)) {
		return ""
	}
	note = strings.TrimPrefix(strings.TrimSpace(note), combinedPrefix)
	note = strings.Join(strings.Fields(strings.TrimPrefix(note, failedCreatePrefix)), " ")
	if len(note) > maxCreateFailure {
		note = note[:maxCreateFailure] + "…"
	}
	return note
}

func eventTime(e *eventsv1.Event) time.Time {
	t := e.CreationTimestamp.Time
	for _, c := range []time.Time{e.DeprecatedLastTimestamp.Time, e.EventTime.Time} {
		if c.After(t) {
			t = c
		}
	}
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	return t
}

// PodCreateFailure lists the events regarding job through api and returns
// CreateFailure of them ("" when its pod is not refused). api must read
// from the API server (the manager's GetAPIReader): the operator caches no
// events. It is one List, filtered by the API server on the Job's kind and
// name; callers make it only while the Job has no pod. A nil api is an
// error.
func PodCreateFailure(ctx context.Context, api client.Reader, job *batchv1.Job) (string, error) {
	if api == nil {
		return "", fmt.Errorf("reading the events of job %s: no API server reader (the reconciler's APIReader is not set)", job.Name)
	}
	list := &eventsv1.EventList{}
	sel := fields.Set{"regarding.kind": "Job", "regarding.name": job.Name}.AsSelector()
	if err := api.List(ctx, list, client.InNamespace(job.Namespace), client.MatchingFieldsSelector{Selector: sel}); err != nil {
		return "", fmt.Errorf("listing the events of job %s: %w", job.Name, err)
	}
	return CreateFailure(job, list.Items), nil
}

// PodCreateMessage is the status text for a refusal from PodCreateFailure:
// "the Job's pod cannot be created: <refusal>".
func PodCreateMessage(refusal string) string {
	return "the Job's pod cannot be created: " + refusal
}

// Unfinished reports whether any of pods has not ended (a Job whose pods
// have all ended, or which has none, may be one whose pod is refused).
func Unfinished(pods []corev1.Pod) bool {
	for i := range pods {
		if p := pods[i].Status.Phase; p != corev1.PodSucceeded && p != corev1.PodFailed {
			return true
		}
	}
	return false
}
