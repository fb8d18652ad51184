package main

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// access is one permission the provisioner needs.
type access struct {
	group, resource, subresource string
	verbs                        []string
}

// requiredAccess is every permission the provisioner uses. hack/cluster's
// ClusterRole quorum-local-provisioner grants exactly these; the provisioner
// checks them at start so that a missing rule fails `hack/cluster.sh up`
// instead of a resize in the middle of a test.
var requiredAccess = []access{
	{"", "persistentvolumeclaims", "", []string{"get", "list", "watch"}},
	{"", "persistentvolumeclaims", "status", []string{"patch"}},                                   // resize: claim status
	{"", "persistentvolumes", "", []string{"get", "list", "watch", "create", "update", "delete"}}, // update: resize
	{"storage.k8s.io", "storageclasses", "", []string{"get", "list", "watch"}},
	{"", "events", "", []string{"create", "patch"}}, // events on claims; patch when the recorder aggregates
}

func (a access) String() string {
	r := a.resource
	if a.subresource != "" {
		r += "/" + a.subresource
	}
	if a.group != "" {
		r += "." + a.group
	}
	return r
}

// missingAccess asks the API server, through SelfSubjectAccessReviews, which
// of the required permissions the provisioner's identity lacks.
func missingAccess(ctx context.Context, c kubernetes.Interface) ([]string, error) {
	var missing []string
	for _, a := range requiredAccess {
		for _, verb := range a.verbs {
			r, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
					Verb: verb, Group: a.group, Resource: a.resource, Subresource: a.subresource,
				}},
			}, metav1.CreateOptions{})
			if err != nil {
				return nil, fmt.Errorf("access review of %s %s: %w", verb, a, err)
			}
			if !r.Status.Allowed {
				missing = append(missing, verb+" "+a.String())
			}
		}
	}
	return missing, nil
}

func checkAccess(ctx context.Context, c kubernetes.Interface) error {
	missing, err := missingAccess(ctx, c)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("the provisioner's identity lacks: %s", strings.Join(missing, ", "))
	}
	return nil
}
