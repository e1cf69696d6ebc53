package redisstore

import (
	"crypto/sha256"
	"encoding/hex"
)

// Names are the Redis keys of one function (see scripts.go for the
// layout). They all carry the function's hash tag, so that they live in one
// Cluster slot.
type Names struct {
	Entry string // prefix of entry keys: "pc:{tag}:k:", then the key's bytes
	LRU   string // "pc:{tag}:lru"
	Seq   string // "pc:{tag}:seq"
	Exp   string // "pc:{tag}:exp"
}

// Registry is the key of the registry of namespaces: a hash whose fields
// are the namespaces that processes of this module used, each valued with
// its last use in Unix milliseconds (the latest any process recorded).
// It has no hash tag: in a Cluster it lives in the slot of "pc:ns", on
// one node, apart from the functions' keys (see scripts.go). No
// function's key collides with it: theirs all begin "pc:{".
const Registry = "pc:ns"

// TagLen is the number of hex digits of the hash tag: 128 bits of
// SHA-256(fn), so two functions sharing a namespace is not a practical
// concern.
const TagLen = 32

// NewNames returns the keys of the function whose namespace is fn.
func NewNames(fn string) Names {
	sum := sha256.Sum256([]byte(fn))
	base := "pc:{" + hex.EncodeToString(sum[:TagLen/2]) + "}:"
	return Names{Entry: base + "k:", LRU: base + "lru", Seq: base + "seq", Exp: base + "exp"}
}
