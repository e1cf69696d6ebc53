package sqldb

// Retries reports how many transient failures s has retried.
func Retries(s *Store) int64 { return s.retries.Load() }

// Pending reports how many hits s holds that it has not applied.
func Pending(s *Store) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, fn := range s.fns {
		n += fn.touches.Len()
	}
	return n
}

// ForgetUse makes s forget that it recorded a use of the namespace name,
// as if a minute had passed.
func ForgetUse(s *Store, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fn := s.fns[name]; fn != nil {
		fn.recorded.Store(0)
	}
}
