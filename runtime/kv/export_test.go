package kv

// SetHashLen cuts the hash in s's entry keys to n characters, so that a
// test can make distinct keys share a cache key. Call it before any Space.
func SetHashLen(s *Store, n int) { s.hashLen = n }
