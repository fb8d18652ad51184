package v1alpha1

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

func TestQuotaBackendBytes(t *testing.T) {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	const mi, gi = int64(1) << 20, int64(1) << 30
	cases := []struct {
		name          string
		quota, volume *resource.Quantity
		want          int64
	}{
		{"explicit quota wins", q("3Gi"), q("10Gi"), 3 * gi},
		{"explicit quota kept even if the volume is small (admission refuses it)", q("2Gi"), q("1Gi"), 2 * gi},
		{"default 1Gi volume", nil, nil, (1024 - 384) / 2 * mi},
		{"1Gi volume", nil, q("1Gi"), 320 * mi},
		{"1024Mi is 1Gi", nil, q("1024Mi"), 320 * mi},
		{"10Gi volume", nil, q("10Gi"), (10240 - 384) / 2 * mi},
		{"largest volume below the cap", nil, q("16766Mi"), (16766 - 384) / 2 * mi},
		{"capped at 8Gi exactly", nil, q("16768Mi"), 8 * gi},
		{"capped at 8Gi above", nil, q("100Gi"), 8 * gi},
		{"decimal units", nil, q("2G"), (2_000_000_000 - 384*mi) / 2},
		{"512Mi volume: the floor", nil, q("512Mi"), 64 * mi},
		{"volume smaller than the WAL reserve: the floor", nil, q("256Mi"), 64 * mi},
		{"zero volume: the floor", nil, q("0"), 64 * mi},
		{"just above the floor", nil, q("514Mi"), 65 * mi},
	}
	for _, tc := range cases {
		if got := QuotaBackendBytes(tc.quota, tc.volume); got != tc.want {
			t.Errorf("%s: QuotaBackendBytes(%v, %v) = %d, want %d", tc.name, tc.quota, tc.volume, got, tc.want)
		}
	}
}

// A derived quota always fits the rule the CRD applies to an explicit one.
func TestDerivedQuotaFitsTheVolume(t *testing.T) {
	for size := int64(768) << 20; size <= 64<<30; size += 97 << 20 {
		v := resource.NewQuantity(size, resource.BinarySI)
		if got := QuotaBackendBytes(nil, v); got > size-WALReserveBytes || 2*got > size-WALReserveBytes || got <= 0 {
			t.Fatalf("volume %d: quota %d does not leave room for the WAL and a second copy", size, got)
		}
	}
}
