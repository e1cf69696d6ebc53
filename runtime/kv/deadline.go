package kv

import (
	"context"
	"time"
)

// bound applies the Store's timeout to ctx, unless ctx ends sooner.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= s.timeout {
		return ctx, noCancel
	}
	if ctx.Done() == nil {
		// A context that is never canceled, as most calls pass: share a
		// deadline with the calls of the last few milliseconds rather
		// than start a timer for each.
		d := s.shared()
		if ctx == context.Background() || ctx == context.TODO() {
			return d, noCancel
		}
		return &valuesCtx{d, ctx}, noCancel
	}
	return context.WithTimeout(ctx, s.timeout)
}

func noCancel() {}

// sharedEvery is how long calls share one deadline: each of them gets
// between timeout-sharedEvery and timeout.
const sharedEvery = 10 * time.Millisecond

// deadline is a context with a deadline, shared by the calls that began
// in the sharedEvery after start.
type deadline struct {
	context.Context
	cancel context.CancelFunc
	start  time.Time
}

// shared returns the deadline for a call that begins now: at most the
// Store's timeout from now, and no less than sharedEvery (or a 16th of the
// timeout) short of it. A deadline no longer handed out ends, and frees
// its timer, at its time.
func (s *Store) shared() context.Context {
	d := s.deadline.Load()
	now := time.Now()
	if d != nil && now.Sub(d.start) < min(sharedEvery, s.timeout/16) {
		return d
	}
	nd := &deadline{start: now}
	nd.Context, nd.cancel = context.WithDeadline(context.Background(), now.Add(s.timeout))
	s.deadline.CompareAndSwap(d, nd) // or another call renewed it: nd serves this one
	return nd
}

// valuesCtx is a shared deadline with the values of a call's own
// context, which is never canceled.
type valuesCtx struct {
	context.Context                 // the deadline
	values          context.Context // the call's
}

func (c *valuesCtx) Value(key any) any { return c.values.Value(key) }
