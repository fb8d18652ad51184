package confirm

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// The cache's "not found" is checked with the API server; without one it
// stands.
func TestGet(t *testing.T) {
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}}
	empty := fake.NewClientBuilder().Build()
	holds := fake.NewClientBuilder().WithObjects(cm).Build()
	key := client.ObjectKeyFromObject(cm)

	if err := Get(ctx, empty, holds, key, &corev1.ConfigMap{}); err != nil {
		t.Errorf("lagging cache, API server holds it: %v", err)
	}
	if err := Get(ctx, empty, nil, key, &corev1.ConfigMap{}); err == nil {
		t.Error("lagging cache, no API reader: found")
	}
	if err := Get(ctx, empty, empty, key, &corev1.ConfigMap{}); err == nil {
		t.Error("gone everywhere: found")
	}
	if err := Get(ctx, holds, nil, key, &corev1.ConfigMap{}); err != nil {
		t.Errorf("in the cache: %v", err)
	}
}
