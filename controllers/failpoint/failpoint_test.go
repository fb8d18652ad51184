package failpoint

import (
	"sync"
	"testing"
)

func TestHitOnlyEnabledPoints(t *testing.T) {
	t.Setenv(EnvVar, " after-add-learner ,after-promote")
	once = sync.Once{}
	var hits []string
	exit = func(name string) { hits = append(hits, name) }
	Hit(AfterAddLearner)
	Hit(AfterRemoveMember)
	Hit(AfterPromote)
	if len(hits) != 2 || hits[0] != AfterAddLearner || hits[1] != AfterPromote {
		t.Fatalf("hits %v", hits)
	}
}
