package kv_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/picocache/picocache/runtime"
	"github.com/picocache/picocache/runtime/kv"
)

// ttlMap is a whole kv.Client adapter: here over a map with expiry, in
// place of the client of a real cache (the same three methods wrap an
// eko/gocache store, go-redis or a bespoke client).
type ttlMap struct {
	mu sync.Mutex
	m  map[string]ttlItem
}

type ttlItem struct {
	v       []byte
	expires time.Time // zero: never
}

func (c *ttlMap) Get(ctx context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.m[key]
	if !ok || !it.expires.IsZero() && time.Now().After(it.expires) {
		return nil, false, nil
	}
	return append([]byte(nil), it.v...), true, nil
}

func (c *ttlMap) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	it := ttlItem{v: append([]byte(nil), value...)}
	if ttl > 0 {
		it.expires = time.Now().Add(ttl)
	}
	c.m[key] = it
	return nil
}

func (c *ttlMap) Delete(ctx context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	return nil
}

// Plug a cache you already run into picocache: an adapter with Get, Set
// and Delete, then kv.New. Bind the store to functions, or make it the
// default with runtime.SetDefaultStore.
func ExampleNew() {
	s := kv.New(&ttlMap{m: map[string]ttlItem{}})
	defer s.Close()

	square := runtime.New(runtime.Config{Name: "example.Square", Version: "1", MaxSize: 100}, runtime.Codec[int]{
		Type:   "int/decimal",
		Append: func(dst []byte, v int) []byte { return strconv.AppendInt(dst, int64(v), 10) },
		Decode: func(src []byte) (int, error) { return strconv.Atoi(string(src)) },
	})
	square.Bind(s)
	ctx := context.Background()
	for range 3 {
		v, _ := square.Do(ctx, []byte("12"), func(context.Context) (int, error) { return 12 * 12, nil })
		fmt.Println(v)
	}
	info, _ := square.Info(ctx)
	fmt.Printf("hits %d, misses %d, currsize %d\n", info.Hits, info.Misses, info.CurrSize)
	// Output:
	// 144
	// 144
	// 144
	// hits 2, misses 1, currsize 1
}

// counterMap adds what a cache with an atomic counter offers: with Add and
// Increment, a Clear is one atomic increment of the function's generation.
type counterMap struct{ ttlMap }

func (c *counterMap) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if _, ok, _ := c.Get(ctx, key); ok {
		return false, nil // a real cache does this atomically (memcached's add, Redis's SET NX)
	}
	return true, c.Set(ctx, key, value, ttl)
}

func (c *counterMap) Increment(ctx context.Context, key string, delta uint64) (uint64, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.m[key]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(string(it.v), 10, 64)
	if err != nil {
		return 0, false, err
	}
	n += delta
	it.v = strconv.AppendUint(nil, n, 10)
	c.m[key] = it
	return n, true, nil
}

// A Client that is also a kv.Incrementer keeps each function's generation
// as an atomic counter.
func ExampleIncrementer() {
	var c kv.Client = &counterMap{ttlMap{m: map[string]ttlItem{}}}
	_, ok := c.(kv.Incrementer)
	fmt.Println("incrementer:", ok)
	s := kv.New(c)
	defer s.Close()
	ctx := context.Background()
	sp, _ := s.Space(ctx, runtime.Namespace{Name: "example.F@1", Limits: runtime.Limits{MaxSize: 10}})
	sp.Set(ctx, []byte("k"), []byte("v"))
	sp.Clear(ctx)
	_, found, _ := sp.Get(ctx, []byte("k"))
	fmt.Println("found after Clear:", found)
	// Output:
	// incrementer: true
	// found after Clear: false
}

// What a Store promises in the weaker forms a key-value cache allows.
func ExampleStore_Promises() {
	s := kv.New(&ttlMap{m: map[string]ttlItem{}}, kv.WithMaxValueLen(1<<20), kv.WithRefresh(500*time.Millisecond))
	defer s.Close()
	p := s.Promises()
	fmt.Println(p.LenInProcess, p.LRUInProcess, p.ClearDelay, p.MaxEntry)
	// Output:
	// true true 500ms 1048536
}

// Values too large for the cache are not stored, and counted.
func ExampleStore_Stats() {
	s := kv.New(&ttlMap{m: map[string]ttlItem{}}, kv.WithMaxValueLen(100))
	defer s.Close()
	ctx := context.Background()
	sp, _ := s.Space(ctx, runtime.Namespace{Name: "example.F@1", Limits: runtime.Limits{MaxSize: runtime.Unbounded}})
	err := sp.Set(ctx, []byte("k"), make([]byte, 200)) // logged once for the function, too
	fmt.Println(err, s.Stats().Oversize)
	// Output:
	// <nil> 1
}

// Applications sharing one cache keep apart by prefix; a cache with short
// keys gets them cut to fit, the full key staying in the stored value.
func ExampleWithPrefix() {
	s := kv.New(&ttlMap{m: map[string]ttlItem{}}, kv.WithPrefix("billing:"), kv.WithMaxKeyLen(64), kv.WithTimeout(500*time.Millisecond))
	defer s.Close()
	fmt.Println(s.Bound())
	// Output:
	// 500ms
}
