package redis

// For the tests of package redis_test.

// ForgetUse makes s forget when it last recorded a use of the namespace
// name, as if runtime.UseInterval had passed: its next use is recorded by
// the next flush.
func ForgetUse(s *Store, name string) { s.core.ForgetUse(name) }
