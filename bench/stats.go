package bench

import (
	"math"
	"slices"
	"time"
)

// Summary is the median and range of a metric over the runs.
type Summary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Spread is (max-min)/median in percent; 0 when the median is 0.
	Spread float64 `json:"spread_pct"`
}

// Summarize computes the Summary of xs; NaN fields for none.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		nan := math.NaN()
		return Summary{nan, nan, nan, nan}
	}
	s := slices.Sorted(slices.Values(xs))
	sum := Summary{Median: Percentile(s, 50), Min: s[0], Max: s[len(s)-1]}
	if sum.Median != 0 {
		sum.Spread = math.Abs((sum.Max - sum.Min) / sum.Median * 100)
	}
	return sum
}

// Percentile of sorted xs, p in [0,100], interpolating linearly between
// the closest ranks (the median of an even count is the mean of the middle
// two). NaN for none.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

// Latencies returns the p50 and p99 of ds in milliseconds.
func Latencies(ds []time.Duration) (p50, p99 float64) {
	ms := make([]float64, len(ds))
	for i, d := range ds {
		ms[i] = float64(d) / float64(time.Millisecond)
	}
	slices.Sort(ms)
	return Percentile(ms, 50), Percentile(ms, 99)
}
