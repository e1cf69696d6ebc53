package kv_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/picocache/picocache/runtime/kv"
)

// mapClient is an in-process kv.Incrementer over a map, with expiry and an
// optional item size limit: the cache of the adapter's unit tests. Two
// Stores on one mapClient are two processes sharing a cache.
type mapClient struct {
	mu      sync.Mutex
	items   map[string]mapItem // guarded by mu
	maxItem int                // values longer are refused with kv.ErrTooLarge; 0: none
	calls   int                // guarded by mu
}

type mapItem struct {
	v   []byte
	exp time.Time
}

func newMapClient() *mapClient { return &mapClient{items: make(map[string]mapItem)} }

func (m *mapClient) getLocked(key string) (mapItem, bool) {
	m.calls++
	it, ok := m.items[key]
	if ok && !it.exp.IsZero() && !time.Now().Before(it.exp) {
		delete(m.items, key)
		return mapItem{}, false
	}
	return it, ok
}

func (m *mapClient) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.getLocked(key)
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), it.v...), true, nil
}

func (m *mapClient) setLocked(key string, value []byte, ttl time.Duration) error {
	if m.maxItem > 0 && len(value) > m.maxItem {
		delete(m.items, key)
		return fmt.Errorf("mapClient: %d bytes: %w", len(value), kv.ErrTooLarge)
	}
	it := mapItem{v: append([]byte(nil), value...)}
	if ttl > 0 {
		it.exp = time.Now().Add(ttl)
	}
	m.items[key] = it
	return nil
}

func (m *mapClient) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	return m.setLocked(key, value, ttl)
}

func (m *mapClient) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	delete(m.items, key)
	return nil
}

func (m *mapClient) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.getLocked(key); ok {
		return false, nil
	}
	return true, m.setLocked(key, value, ttl)
}

func (m *mapClient) Increment(ctx context.Context, key string, delta uint64) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.getLocked(key)
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(strings.TrimRight(string(it.v), " "), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("mapClient: incr of a non-number")
	}
	n += delta
	it.v = strconv.AppendUint(nil, n, 10)
	m.items[key] = it
	return n, true, nil
}

// len reports how many items the map holds, expired ones included.
func (m *mapClient) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// keys returns the map's keys.
func (m *mapClient) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ks []string
	for k := range m.items {
		ks = append(ks, k)
	}
	return ks
}

// checkKey refuses what memcached refuses: keys over 250 bytes, with a
// space or a control character.
func checkKey(key string) error {
	if len(key) > 250 || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("mapClient: malformed key %q", key)
	}
	return nil
}

// plainClient hides mapClient's Add and Increment: a kv.Client that is not
// a kv.Incrementer.
type plainClient struct{ m *mapClient }

func (p plainClient) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return p.m.Get(ctx, key)
}

func (p plainClient) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return p.m.Set(ctx, key, value, ttl)
}

func (p plainClient) Delete(ctx context.Context, key string) error { return p.m.Delete(ctx, key) }

// silentClient never answers: each call waits for its context to end, as
// a client of a server that accepts and never replies does.
type silentClient struct{}

func (silentClient) Get(ctx context.Context, key string) ([]byte, bool, error) {
	<-ctx.Done()
	return nil, false, ctx.Err()
}

func (silentClient) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	<-ctx.Done()
	return ctx.Err()
}

func (silentClient) Delete(ctx context.Context, key string) error {
	<-ctx.Done()
	return ctx.Err()
}
