package bench

import (
	"strconv"
	"testing"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"

	"github.com/picocache/picocache/runtime"
)

// keys is the key distribution of every hit benchmark: 1024 keys, all
// resident, visited in a fixed order.
const keys = 1024

// handWired is what a user writes without PicoCache: golang-lru in front
// of singleflight.
type handWired struct {
	cache *lru.Cache[int, int]
	group singleflight.Group
}

func (h *handWired) Square(n int) int {
	if v, ok := h.cache.Get(n); ok {
		return v
	}
	v, _, _ := h.group.Do(strconv.Itoa(n), func() (any, error) {
		v := Square(n)
		h.cache.Add(n, v)
		return v, nil
	})
	return v.(int)
}

// BenchmarkHit compares a hit of the generated wrapper on the in-memory
// store with a Get of otter and of golang-lru, and with a hit of the
// hand-wired golang-lru + singleflight wrapper, on the same keys.
//
// Each peer's loop is written out rather than shared through a func
// value: an indirect call would add a nanosecond or two to figures of
// about forty, which is what these benchmarks compare.
func BenchmarkHit(b *testing.B) {
	b.Run("picocache", func(b *testing.B) {
		SquareCache.Bind(runtime.NewMemory())
		defer SquareCache.Bind(nil)
		for n := range keys {
			SquareCached(n)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			SquareCached(i & (keys - 1))
		}
	})
	b.Run("otter", func(b *testing.B) {
		c := otter.Must(&otter.Options[int, int]{MaximumSize: keys})
		for n := range keys {
			c.Set(n, Square(n))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c.GetIfPresent(i & (keys - 1))
		}
	})
	b.Run("golang-lru", func(b *testing.B) {
		c, _ := lru.New[int, int](keys)
		for n := range keys {
			c.Add(n, Square(n))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c.Get(i & (keys - 1))
		}
	})
	b.Run("golang-lru+singleflight", func(b *testing.B) {
		c, _ := lru.New[int, int](keys)
		h := &handWired{cache: c}
		for n := range keys {
			h.Square(n)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			h.Square(i & (keys - 1))
		}
	})
}

// BenchmarkHitParallel is BenchmarkHit with every core calling at once.
func BenchmarkHitParallel(b *testing.B) {
	b.Run("picocache", func(b *testing.B) {
		SquareCache.Bind(runtime.NewMemory())
		defer SquareCache.Bind(nil)
		for n := range keys {
			SquareCached(n)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				SquareCached(i & (keys - 1))
			}
		})
	})
	b.Run("otter", func(b *testing.B) {
		c := otter.Must(&otter.Options[int, int]{MaximumSize: keys})
		for n := range keys {
			c.Set(n, Square(n))
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				c.GetIfPresent(i & (keys - 1))
			}
		})
	})
	b.Run("golang-lru+singleflight", func(b *testing.B) {
		c, _ := lru.New[int, int](keys)
		h := &handWired{cache: c}
		for n := range keys {
			h.Square(n)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				h.Square(i & (keys - 1))
			}
		})
	})
}
