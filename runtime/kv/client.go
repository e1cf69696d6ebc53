package kv

import (
	"context"
	"errors"
	"time"
)

// A Client is what the Store needs of a key-value cache: get, set with a
// time to live, and delete, by string key. An adapter of a few lines makes
// one of any client (memcached, an eko/gocache store, a bespoke one); see
// the package example. A Client must be safe for concurrent use by
// multiple goroutines.
//
// Keys are what the Store makes of a function's namespace and argument
// bytes: the Store's prefix, then a letter and a base64url hash ('A'-'Z',
// 'a'-'z', '0'-'9', '-', '_'), at most the Store's max key length (see
// WithMaxKeyLen and WithPrefix), so that any cache takes them as they are.
//
// Every call gets a context with a deadline: the Store's bound on the
// whole operation (see WithTimeout). A Client must return by then, with
// the context's error if nothing better; a client that cannot take a
// context (gomemcache) bounds its calls otherwise and says how.
type Client interface {
	// Get returns the value stored under key, with ok true; an absent or
	// expired key is ok == false with a nil error. The Store keeps the
	// returned slice and hands it to its caller: the client must not
	// change it afterwards.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)

	// Set stores value under key, replacing any previous value. A
	// positive ttl lets the cache drop the entry that long after the Set
	// (the Store passes each entry's TTL plus a second and checks the
	// exact expiry itself, so a client may round ttl up, to whole seconds
	// say); zero means no expiry beyond the cache's own eviction. A value
	// too large for the cache is an error that wraps ErrTooLarge. Set
	// must not keep value after it returns.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error

	// Delete removes key. An absent key is not an error.
	Delete(ctx context.Context, key string) error
}

// An Incrementer is a Client with an atomic counter: what the Store uses,
// when the Client is one, to keep each function's generation (see the
// package documentation). Without it a Clear sets the generation to a new
// random value, and of two Clears at once the last write wins; both still
// hide every entry written before them.
type Incrementer interface {
	Client

	// Add stores value under key only if key holds nothing, atomically,
	// and reports whether it did.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) (stored bool, err error)

	// Increment atomically adds delta to the unsigned decimal number
	// stored under key (ASCII digits, possibly followed by spaces) and
	// returns the sum, which wraps around at 2^64. An absent key is
	// ok == false with a nil error, and nothing is stored.
	Increment(ctx context.Context, key string, delta uint64) (value uint64, ok bool, err error)
}

// ErrTooLarge is wrapped by the error of a Client's Set whose value is
// larger than the cache stores. The Store then counts the value as
// oversize (Stats), logs it once per function, and returns nil from its
// Space's Set: the memoized call keeps its result.
var ErrTooLarge = errors.New("kv: value too large for the cache")
