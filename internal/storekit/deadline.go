package storekit

import (
	"context"
	"sync/atomic"
	"time"
)

// Deadlines bounds a store's operations by a timeout, cheaply: calls whose
// context is never canceled (context.Background, as most memoized calls
// pass) share one deadline with the calls of the last few milliseconds
// instead of each starting a timer, which is most of what a bounded hit
// would otherwise cost. It is safe for concurrent use. Set Timeout before
// the first call; the zero Timeout bounds nothing.
type Deadlines struct {
	Timeout time.Duration
	cur     atomic.Pointer[deadline]
}

// Bound applies the timeout to ctx, unless ctx ends sooner.
func (d *Deadlines) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.Timeout <= 0 {
		return ctx, noCancel
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d.Timeout {
		return ctx, noCancel
	}
	if ctx.Done() == nil {
		s := d.shared()
		if ctx == context.Background() || ctx == context.TODO() {
			return s, noCancel
		}
		return &valuesCtx{s, ctx}, noCancel
	}
	return context.WithTimeout(ctx, d.Timeout)
}

// Stop frees the timer of the deadline shared last; for Close.
func (d *Deadlines) Stop() {
	if s := d.cur.Load(); s != nil {
		s.cancel()
	}
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
// timeout from now, and no less than sharedEvery (or a 16th of the
// timeout) short of it. A deadline no longer handed out ends, and frees
// its timer, at its time.
func (d *Deadlines) shared() context.Context {
	s := d.cur.Load()
	now := time.Now()
	if s != nil && now.Sub(s.start) < min(sharedEvery, d.Timeout/16) {
		return s
	}
	ns := &deadline{start: now}
	ns.Context, ns.cancel = context.WithDeadline(context.Background(), now.Add(d.Timeout))
	d.cur.CompareAndSwap(s, ns) // or another call renewed it: ns serves this one
	return ns
}

// valuesCtx is a shared deadline with the values of a call's own
// context, which is never canceled.
type valuesCtx struct {
	context.Context                 // the deadline
	values          context.Context // the call's
}

func (c *valuesCtx) Value(key any) any { return c.values.Value(key) }
