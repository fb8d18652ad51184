package testenv

import (
	"context"
	"reflect"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Lagging is a client whose reads lag as a manager's cache may: Get of an
// object of Stale's type serves Stale (a copy of the object as it was
// before the last write), with NoJobs a Job read is not found yet, and
// with NoPods a list of pods finds none yet (the cache has seen a Job
// finish but not its pod). Everything else goes to the embedded client.
// Tests of a reconciler's passes use it to replay a pass that acts on what
// it read late.
type Lagging struct {
	client.Client
	Stale  client.Object // served instead of the API server's object of its type, if set
	NoJobs bool
	NoPods bool
}

// Get serves Stale or a missing Job, else reads through.
func (l *Lagging) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if l.Stale != nil && reflect.TypeOf(obj) == reflect.TypeOf(l.Stale) {
		reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(l.Stale.DeepCopyObject()).Elem())
		return nil
	}
	if _, ok := obj.(*batchv1.Job); ok && l.NoJobs {
		return apierrors.NewNotFound(schema.GroupResource{Group: "batch", Resource: "jobs"}, key.Name)
	}
	return l.Client.Get(ctx, key, obj, opts...)
}

// List finds no pods with NoPods, else reads through.
func (l *Lagging) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if pods, ok := list.(*corev1.PodList); ok && l.NoPods {
		pods.Items = nil
		return nil
	}
	return l.Client.List(ctx, list, opts...)
}

// Drain returns the events rec holds and empties it.
func Drain(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}
