package goredis

// For the tests of package goredis_test.

// Guarded reports whether s runs each call on a goroutine of its own.
func Guarded(s *Store) bool { return s.guarded }

// Copies reports whether s copies the values the client returns.
func Copies(s *Store) bool { return s.cl.copy }

// Abandoned reports how many of s's calls still run past their caller's
// bound.
func Abandoned(s *Store) int64 {
	if g, ok := s.rc.(*guard); ok {
		return g.abandoned.Load()
	}
	return 0
}

// MaxAbandoned is how many calls may outlive their callers at once.
const MaxAbandoned = maxAbandoned

// ForgetUse makes s forget when it last recorded a use of the namespace
// name, as if runtime.UseInterval had passed: its next use is recorded by
// the next flush.
func ForgetUse(s *Store, name string) { s.core.ForgetUse(name) }
