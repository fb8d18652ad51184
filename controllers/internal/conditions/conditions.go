// Package conditions is the one way the reconcilers set a status
// condition; types and reasons are constants in api/v1alpha1.
package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Set sets condition t to True (ok) or False with reason and message, for
// the object's generation. The transition time moves only when the status
// does.
func Set(conds *[]metav1.Condition, generation int64, t string, ok bool, reason, msg string) {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(conds, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: generation})
}
