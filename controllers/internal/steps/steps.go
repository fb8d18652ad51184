// Package steps runs a reconcile pass as a short ordered list of named
// steps over the pass state, as every reconciler of the operator does.
package steps

import (
	"context"
	"fmt"
)

// Step is one named step of a reconcile pass over the pass state P.
type Step[P any] struct {
	Name string
	Run  func(context.Context, P) error
}

// Run runs the steps in order and stops at the first error, which it
// returns wrapped with the step's name.
func Run[P any](ctx context.Context, p P, steps []Step[P]) error {
	for _, s := range steps {
		if err := s.Run(ctx, p); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	return nil
}
