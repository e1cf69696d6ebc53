package sqldb

// Retries reports how many transient failures s has retried.
func Retries(s *Store) int64 { return s.retries.Load() }
