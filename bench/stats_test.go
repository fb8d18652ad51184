package bench

import (
	"math"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want Summary
	}{
		{"one", []float64{5}, Summary{Median: 5, Min: 5, Max: 5}},
		{"odd, unsorted", []float64{9, 1, 5}, Summary{Median: 5, Min: 1, Max: 9, Spread: 160}},
		{"even: mean of the middle two", []float64{4, 1, 3, 2}, Summary{Median: 2.5, Min: 1, Max: 4, Spread: 120}},
		{"zero median: no spread", []float64{-1, 0, 1}, Summary{Median: 0, Min: -1, Max: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summarize(tc.in); got != tc.want {
				t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
	if s := Summarize(nil); !math.IsNaN(s.Median) {
		t.Errorf("Summarize(nil).Median = %v, want NaN", s.Median)
	}
}

func TestSummarizeKeepsInput(t *testing.T) {
	in := []float64{3, 1, 2}
	Summarize(in)
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Errorf("Summarize reordered its input: %v", in)
	}
}

func TestPercentile(t *testing.T) {
	s := make([]float64, 101) // 0..100
	for i := range s {
		s[i] = float64(i)
	}
	for _, tc := range []struct{ p, want float64 }{{0, 0}, {50, 50}, {99, 99}, {100, 100}, {99.5, 99.5}} {
		if got := Percentile(s, tc.p); got != tc.want {
			t.Errorf("Percentile(0..100, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := Percentile([]float64{10, 20}, 99); math.Abs(got-19.9) > 1e-9 {
		t.Errorf("Percentile([10 20], 99) = %v, want 19.9", got)
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("Percentile(nil) is not NaN")
	}
}

func TestLatencies(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p50, p99 := Latencies(ds)
	if p50 != 50.5 || math.Abs(p99-99.01) > 1e-9 {
		t.Errorf("Latencies(1..100 ms) = %v, %v; want 50.5, 99.01", p50, p99)
	}
}
