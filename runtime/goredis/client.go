package goredis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/picocache/picocache/internal/redisstore"
	"github.com/redis/go-redis/v9"
)

// client adapts go-redis to what the store's core calls on the server: a
// GET, and a script by EVALSHA (EVAL when the server does not have it).
type client struct {
	c redis.UniversalClient
	// copy: the client may hand the same reply's bytes to several
	// callers (a client-side cache, or a client the Store cannot look
	// into), so Get returns a copy of them.
	copy bool
}

// scripts holds the store's scripts as go-redis runs them.
var scripts = func() (l [len(redisstore.Scripts)]*redis.Script) {
	for _, sc := range redisstore.Scripts {
		l[sc] = redis.NewScript(sc.Source())
	}
	return l
}()

func (c *client) Get(ctx context.Context, key string) ([]byte, bool, error) {
	// Bytes is a view of the reply's string, which a *redis.Client without
	// a client-side cache reads into a buffer of its own for each reply.
	v, err := c.c.Get(ctx, key).Bytes()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, false, nil
		}
		return nil, false, err
	}
	if c.copy {
		v = bytes.Clone(v)
	}
	return v, true, nil
}

func (c *client) Run(ctx context.Context, sc redisstore.Script, keys, args []string) (int64, error) {
	a := make([]any, len(args))
	for i, s := range args {
		a[i] = s
	}
	return scripts[sc].Run(ctx, c.c, keys, a...).Int64()
}

func (c *client) RunList(ctx context.Context, sc redisstore.Script, keys, args []string) ([]string, error) {
	a := make([]any, len(args))
	for i, s := range args {
		a[i] = s
	}
	return scripts[sc].Run(ctx, c.c, keys, a...).StringSlice()
}

// contextBound reports whether every call through c ends by the deadline
// of its context, so that the Store can call c directly. That holds, in
// go-redis v9.23, for a *redis.Client (standalone, or Sentinel's failover
// client) with ContextTimeoutEnabled and socket deadlines not disabled
// (ReadTimeout and WriteTimeout not -2): then the deadline of each read
// and write is the context's when it is sooner, and the wait for a
// connection of the pool, for a dial and between retries end with the
// context. Without ContextTimeoutEnabled (go-redis's default) a read or
// write waits for ReadTimeout or WriteTimeout whatever the context says.
// A *redis.ClusterClient does not qualify even with it: until it has
// loaded the server's COMMAND table, which it does on the first commands
// it routes and again after a failure, every command waits for that load
// under one lock, with a context of the client's own (5 s). A Ring, or a
// client of the application's own making, the Store cannot look into.
func contextBound(c redis.UniversalClient) bool {
	cl, ok := c.(*redis.Client)
	if !ok {
		return false
	}
	o := cl.Options() // as the client normalised them: -1 means no deadline at all
	return o.ContextTimeoutEnabled && o.ReadTimeout >= 0 && o.WriteTimeout >= 0
}

// freshReplies reports whether every string reply c returns is read into
// memory of its own, so that Get may hand it out without a copy: so for a
// *redis.Client without a client-side cache (a cached reply may be a
// string that the cache made with Go's conversions, which share memory for
// one-byte strings).
func freshReplies(c redis.UniversalClient) bool {
	cl, ok := c.(*redis.Client)
	if !ok {
		return false
	}
	o := cl.Options()
	return o.ClientSideCache == nil && o.ClientSideCacheConfig == nil
}

// guard is a client for a go-redis client that may wait past its
// context's deadline (see contextBound): each call runs on a goroutine of
// its own, and the caller stops waiting for it when its context ends, so
// that the Store's bound holds. The call itself goes on until the client
// ends it, by its own ReadTimeout or WriteTimeout, with its context's
// deadline for what go-redis bounds by the context in any configuration
// (the wait for a connection of the pool, the pauses between retries), or
// until the server answers.
//
// Such calls, left running past their caller's bound, are counted: while
// maxAbandoned of them run (a server that stopped answering, a client with
// no socket deadlines), a call fails at once instead of starting another
// goroutine, so that a long outage costs bounded memory: at most
// maxAbandoned goroutines, plus those of the calls that were in progress
// when the count reached it.
type guard struct {
	*client
	abandoned atomic.Int64 // calls whose caller stopped waiting, still running
}

// maxAbandoned is how many calls may outlive their callers at once.
const maxAbandoned = 256

// call is one call of a guard, between its goroutine and its caller.
type call struct {
	done  chan result // capacity 1: the goroutine never blocks on it
	state atomic.Int32
}

// A call's states: the goroutine or the caller, whichever comes first,
// moves it out of running.
const (
	running   = iota
	delivered // the goroutine finished first
	abandoned // the caller stopped waiting first
)

type result struct {
	v    []byte
	n    int64
	list []string
	ok   bool
	err  error
}

// errBusy is the failure of a call not started because maxAbandoned calls
// still run.
var errBusy = fmt.Errorf("%d calls to the server are still running past the store's bound; not starting another", maxAbandoned)

// start returns a new call, or nil when too many still run.
func (g *guard) start() *call {
	if g.abandoned.Load() >= maxAbandoned {
		return nil
	}
	return &call{done: make(chan result, 1)}
}

// finish delivers r, from c's goroutine.
func (g *guard) finish(c *call, r result) {
	c.done <- r
	if !c.state.CompareAndSwap(running, delivered) {
		g.abandoned.Add(-1) // its caller gave up on it
	}
}

// wait returns c's result, or ctx's error when ctx ends first.
func (g *guard) wait(ctx context.Context, c *call) result {
	select {
	case r := <-c.done:
		return r
	case <-ctx.Done():
		if c.state.CompareAndSwap(running, abandoned) {
			g.abandoned.Add(1)
			return result{err: ctx.Err()}
		}
		return <-c.done // it finished meanwhile
	}
}

func (g *guard) Get(ctx context.Context, key string) ([]byte, bool, error) {
	c := g.start()
	if c == nil {
		return nil, false, errBusy
	}
	go func() {
		v, ok, err := g.client.Get(ctx, key)
		g.finish(c, result{v: v, ok: ok, err: err})
	}()
	r := g.wait(ctx, c)
	return r.v, r.ok, r.err
}

func (g *guard) Run(ctx context.Context, sc redisstore.Script, keys, args []string) (int64, error) {
	c := g.start()
	if c == nil {
		return 0, errBusy
	}
	go func() {
		n, err := g.client.Run(ctx, sc, keys, args)
		g.finish(c, result{n: n, err: err})
	}()
	r := g.wait(ctx, c)
	return r.n, r.err
}

func (g *guard) RunList(ctx context.Context, sc redisstore.Script, keys, args []string) ([]string, error) {
	c := g.start()
	if c == nil {
		return nil, errBusy
	}
	go func() {
		list, err := g.client.RunList(ctx, sc, keys, args)
		g.finish(c, result{list: list, err: err})
	}()
	r := g.wait(ctx, c)
	return r.list, r.err
}
