package runtime

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
)

func TestEntryCRCMatchesLibrary(t *testing.T) {
	for _, key := range [][]byte{nil, {}, []byte("k"), make([]byte, 200), []byte("\x00\xff key")} {
		body := []byte("some body bytes")
		var n [binary.MaxVarintLen64]byte
		want := crc32.Update(7, castagnoli, n[:binary.PutUvarint(n[:], uint64(len(key)))])
		want = crc32.Update(want, castagnoli, key)
		want = crc32.Update(want, castagnoli, body)
		if got := entryCRC(7, key, body); got != want {
			t.Errorf("key %q: entryCRC = %x, want %x", key, got, want)
		}
	}
}
