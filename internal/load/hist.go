package load

import (
	"math/bits"
	"time"
)

// The latency histogram is log-linear: values below 2^(subBits+1)
// microseconds have their own bucket; above that every power of two is cut
// into 2^subBits equal buckets, so a bucket is at most 1/128 of its value
// wide. Values are clamped at maxMicros (about 71 minutes).
const (
	subBits     = 7
	subCount    = 1 << subBits
	maxMicros   = 1<<32 - 1
	histBuckets = (32-subBits-1)*subCount + 2*subCount
)

// histogram counts latencies in microseconds. One histogram belongs to one
// goroutine; histograms are merged once the goroutines have finished.
type histogram struct {
	counts [histBuckets]uint64
	total  uint64
	max    uint64
}

func bucketOf(us uint64) int {
	if us > maxMicros {
		us = maxMicros
	}
	if us < 2*subCount {
		return int(us)
	}
	shift := bits.Len64(us) - (subBits + 1)
	return shift*subCount + int(us>>shift)
}

// bucketValue returns the middle of bucket i in microseconds.
func bucketValue(i int) uint64 {
	if i < 2*subCount {
		return uint64(i)
	}
	shift := i/subCount - 1
	top := uint64(i - shift*subCount)
	lo := top << shift
	return lo + (uint64(1)<<shift)/2
}

func (h *histogram) record(us uint64) {
	h.counts[bucketOf(us)]++
	h.total++
	if us > h.max {
		h.max = us
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// quantile returns the latency at quantile q (0 < q ≤ 1): the value of the
// bucket holding the ceil(q·total)-th sample, never above the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.999999999)
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketValue(i), h.max)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}
