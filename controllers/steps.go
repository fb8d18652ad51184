package controllers

import (
	"context"
	"fmt"
)

// step is one named step of a reconcile pass over the pass state P.
type step[P any] struct {
	name string
	run  func(context.Context, P) error
}

// runSteps runs the steps in order and stops at the first error, which it
// returns wrapped with the step's name.
func runSteps[P any](ctx context.Context, p P, steps []step[P]) error {
	for _, s := range steps {
		if err := s.run(ctx, p); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}
