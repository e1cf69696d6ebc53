package memcache

import (
	"math"
	"testing"
	"time"
)

func TestExpiration(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, c := range []struct {
		ttl  time.Duration
		want int32
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Nanosecond, 1},
		{300 * time.Millisecond, 1},
		{time.Second, 1},
		{1300 * time.Millisecond, 2},
		{30 * 24 * time.Hour, maxRelative},
		{30*24*time.Hour + time.Second, 1_800_000_000 + maxRelative + 1},
		{100 * 365 * 24 * time.Hour, math.MaxInt32},
	} {
		if got := expiration(c.ttl, now); got != c.want {
			t.Errorf("expiration(%v) = %d, want %d", c.ttl, got, c.want)
		}
	}
}
