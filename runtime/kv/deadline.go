package kv

import "context"

// bound applies the Store's timeout to ctx, unless ctx ends sooner (see
// storekit.Deadlines: calls that can never be canceled share a deadline).
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return s.deadlines.Bound(ctx)
}
