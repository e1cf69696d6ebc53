package memcache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/picocache/picocache/runtime/kv"
)

// Adapt returns c as a kv.Client with memcached's atomic add and incr (a
// kv.Incrementer): what New builds its Store on, and what a kv.Store of
// options of your own takes. It never closes c.
//
// gomemcache takes no context: each of its calls bounds its reads and
// writes by c.Timeout (read when Adapt is called; gomemcache's default is
// 500ms), each once, so that one call takes at most four of them (a dial,
// a write, a reply line, and the last line of a get). A call whose
// context leaves at least that much runs as it is; one whose context ends
// sooner runs on a goroutine of its own, which the caller stops waiting
// for when its context ends and which ends by itself within the four
// timeouts. So a Store's bound holds either way, and costs nothing where
// it is at least four times the socket timeout (Open makes it five).
//
// Expirations are memcached's: whole seconds, rounded up, relative up to
// 30 days and absolute (Unix time) beyond, which memcached takes as a
// date until 2038. A value the server refuses as too large ("SERVER_ERROR
// object too large for cache") is an error wrapping kv.ErrTooLarge; the
// server has then dropped the key's earlier value.
func Adapt(c *gomemcache.Client) kv.Incrementer {
	return &adapter{c: c, worst: worstCase(c)}
}

type adapter struct {
	c *gomemcache.Client
	// worst is how long one call of c may take: four socket timeouts.
	worst time.Duration
}

func socketTimeout(c *gomemcache.Client) time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return gomemcache.DefaultTimeout
}

func worstCase(c *gomemcache.Client) time.Duration { return 4 * socketTimeout(c) }

// direct reports whether a call may run on the caller's goroutine: its
// context leaves it time for the worst case. It fails when ctx has ended.
func (a *adapter) direct(ctx context.Context) (bool, error) {
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	default:
	}
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) >= a.worst, nil
}

// bounded runs f on a goroutine, and returns its result or, when ctx ends
// first, ctx's error.
func bounded[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (a *adapter) Get(ctx context.Context, key string) ([]byte, bool, error) {
	direct, err := a.direct(ctx)
	if err != nil {
		return nil, false, err
	}
	var it *gomemcache.Item
	if direct {
		it, err = a.c.Get(key)
	} else {
		it, err = bounded(ctx, func() (*gomemcache.Item, error) { return a.c.Get(key) })
	}
	switch {
	case errors.Is(err, gomemcache.ErrCacheMiss):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return it.Value, true, nil
}

func (a *adapter) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return a.store(ctx, (*gomemcache.Client).Set, key, value, ttl)
}

func (a *adapter) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	err := a.store(ctx, (*gomemcache.Client).Add, key, value, ttl)
	if errors.Is(err, gomemcache.ErrNotStored) {
		return false, nil
	}
	return err == nil, err
}

// store runs a storage command, Set or Add.
func (a *adapter) store(ctx context.Context, cmd func(*gomemcache.Client, *gomemcache.Item) error, key string, value []byte, ttl time.Duration) error {
	direct, err := a.direct(ctx)
	if err != nil {
		return err
	}
	it := &gomemcache.Item{Key: key, Value: value, Expiration: expiration(ttl, time.Now())}
	if direct {
		err = cmd(a.c, it)
	} else {
		// The goroutine may outlive the call: give it its own copy.
		it.Value = append([]byte(nil), value...)
		_, err = bounded(ctx, func() (struct{}, error) { return struct{}{}, cmd(a.c, it) })
	}
	if err != nil && strings.Contains(err.Error(), "object too large") {
		return fmt.Errorf("memcache: %d bytes: %w (%v)", len(value), kv.ErrTooLarge, err)
	}
	return err
}

func (a *adapter) Delete(ctx context.Context, key string) error {
	direct, err := a.direct(ctx)
	if err != nil {
		return err
	}
	if direct {
		err = a.c.Delete(key)
	} else {
		_, err = bounded(ctx, func() (struct{}, error) { return struct{}{}, a.c.Delete(key) })
	}
	if errors.Is(err, gomemcache.ErrCacheMiss) {
		return nil
	}
	return err
}

// Increment is memcached's incr, which fails on an absent key: ok is then
// false.
func (a *adapter) Increment(ctx context.Context, key string, delta uint64) (uint64, bool, error) {
	direct, err := a.direct(ctx)
	if err != nil {
		return 0, false, err
	}
	var v uint64
	if direct {
		v, err = a.c.Increment(key, delta)
	} else {
		v, err = bounded(ctx, func() (uint64, error) { return a.c.Increment(key, delta) })
	}
	if errors.Is(err, gomemcache.ErrCacheMiss) {
		return 0, false, nil
	}
	return v, err == nil, err
}

// maxRelative is the longest expiration memcached takes as relative: 30
// days. Longer ones are Unix times.
const maxRelative = 30 * 24 * 60 * 60

// expiration is memcached's expiration for ttl from now: zero for none,
// else whole seconds rounded up, relative up to 30 days and an absolute
// Unix time beyond (capped at the last one a 32-bit field holds).
func expiration(ttl time.Duration, now time.Time) int32 {
	if ttl <= 0 {
		return 0
	}
	secs := int64((ttl + time.Second - 1) / time.Second)
	if secs <= maxRelative {
		return int32(secs)
	}
	return int32(min(now.Unix()+secs, math.MaxInt32))
}
