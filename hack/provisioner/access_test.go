package main

import (
	"context"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestCheckAccess(t *testing.T) {
	c := fake.NewClientset()
	var asked []string
	c.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		ra := r.Spec.ResourceAttributes
		asked = append(asked, ra.Verb+" "+ra.Resource+"/"+ra.Subresource)
		r.Status.Allowed = !(ra.Resource == "persistentvolumeclaims" && ra.Subresource == "status")
		return true, r, nil
	})
	err := checkAccess(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "lacks: patch persistentvolumeclaims/status") {
		t.Fatalf("checkAccess: %v", err)
	}
	for _, want := range []string{"update persistentvolumes/", "patch persistentvolumeclaims/status", "create events/", "watch storageclasses/"} {
		if !strings.Contains(strings.Join(asked, ","), want) {
			t.Errorf("did not ask about %q: %v", want, asked)
		}
	}
}
