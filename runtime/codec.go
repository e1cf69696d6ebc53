package runtime

// KeyAppender is implemented by a type that writes its own cache key: an
// argument of such a type, or such a value inside an interface argument,
// is keyed by what AppendCacheKey appends rather than field by field. The
// method must append the same bytes for values it considers equal, and
// different bytes for values it does not; generated code writes their
// length before them, so they need not be self-delimiting. picogen finds
// the method by its name and signature (on the type or its pointer): the
// type need not mention this interface.
type KeyAppender interface {
	AppendCacheKey(dst []byte) []byte
}
