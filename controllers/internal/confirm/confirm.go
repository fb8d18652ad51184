// Package confirm reads an object the informer cache says does not exist
// again from the API server before a reconciler acts on its absence.
package confirm

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Get reads key into obj through cache; when the cache does not hold it
// (NotFound), through api instead. An object created a moment ago may not
// have reached the cache yet, and taking it for absent makes a reconciler
// redo what it already did (a cluster taken for new, a Job taken for
// deleted). With api nil the cache's answer stands. Errors are the
// readers' own; NotFound only when api says so too.
func Get(ctx context.Context, cache, api client.Reader, key client.ObjectKey, obj client.Object) error {
	err := cache.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && api != nil {
		err = api.Get(ctx, key, obj)
	}
	return err
}
