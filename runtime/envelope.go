package runtime

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// A stored value is an envelope around what Codec.Append writes:
//
//	magic "pc" | format (1 byte) | fingerprint of Codec.Type (8 bytes) | payload | checksum (4 bytes)
//
// The checksum is a CRC-32C of the function's namespace, the entry's key
// and every byte of the envelope before it, so that a value written by
// other code, by another result type, under another key or function, or
// damaged in the store, is recognised and treated as a miss. The
// namespace and the key are each preceded by their length (uvarint), so
// that no two (namespace, key) pairs feed the checksum the same bytes.
//
// Format 1 (until December 2026) had a checksum of the envelope alone;
// such entries are misses, overwritten by the next store, and not counted
// as store failures.
const (
	envelopeFormat = 2
	fingerprintLen = 8
	headerLen      = 2 + 1 + fingerprintLen
	trailerLen     = 4
)

var (
	envelopeMagic = [2]byte{'p', 'c'}
	castagnoli    = crc32.MakeTable(crc32.Castagnoli)
)

// fingerprint identifies a result type and its encoding.
func fingerprint(typ string) (fp [fingerprintLen]byte) {
	sum := sha256.Sum256([]byte("picocache value\x00" + typ))
	copy(fp[:], sum[:])
	return fp
}

// namespaceCRC is the checksum state after a function's namespace, where
// the checksum of each of its entries continues.
func namespaceCRC(ns string) uint32 {
	b := binary.AppendUvarint([]byte("picocache entry\x00"), uint64(len(ns)))
	return crc32.Update(0, castagnoli, append(b, ns...))
}

// entryCRC is the checksum of an envelope's body (everything before the
// checksum) for key in the function whose namespace gave nsCRC.
//
// The key goes through crcUpdate, byte by byte, not crc32.Update, which
// calls through a function value: the key would escape to the heap, and a
// hit would allocate the wrapper's key buffer. Keys are short; the body,
// on the heap anyway, takes the fast path.
func entryCRC(nsCRC uint32, key, body []byte) uint32 {
	crc := nsCRC
	for n := uint64(len(key)); ; n >>= 7 { // the uvarint of len(key)
		if n < 0x80 {
			crc = crcUpdate(crc, byte(n))
			break
		}
		crc = crcUpdate(crc, byte(n)|0x80)
	}
	for _, b := range key {
		crc = crcUpdate(crc, b)
	}
	return crc32.Update(crc, castagnoli, body)
}

// crcUpdate continues a CRC-32C (as crc32.Update keeps it) by one byte.
func crcUpdate(crc uint32, b byte) uint32 {
	crc = ^crc
	crc = castagnoli[byte(crc)^b] ^ crc>>8
	return ^crc
}

func (f *Func[R]) encode(key []byte, r R) []byte {
	buf := make([]byte, headerLen, 64)
	copy(buf, envelopeMagic[:])
	buf[2] = envelopeFormat
	copy(buf[3:], f.fp[:])
	buf = f.codec.Append(buf, r)
	return binary.BigEndian.AppendUint32(buf, entryCRC(f.nsCRC, key, buf))
}

var (
	errEnvelope = errors.New("picocache: stored value is not a valid entry")
	// errOldFormat is a valid entry of an earlier envelope format: a
	// miss, but not a store failure.
	errOldFormat = fmt.Errorf("%w: written by an earlier picocache", errEnvelope)
)

// decode opens an envelope written by encode for the same function, key
// and result type.
func (f *Func[R]) decode(key, raw []byte) (r R, err error) {
	if len(raw) < headerLen+trailerLen || !bytes.Equal(raw[:2], envelopeMagic[:]) {
		return r, errEnvelope
	}
	if raw[2] != envelopeFormat {
		if raw[2] == 1 {
			return r, errOldFormat
		}
		return r, fmt.Errorf("%w: unknown format %d", errEnvelope, raw[2])
	}
	if !bytes.Equal(raw[3:headerLen], f.fp[:]) {
		return r, fmt.Errorf("%w: written for another result type", errEnvelope)
	}
	body := raw[:len(raw)-trailerLen]
	if entryCRC(f.nsCRC, key, body) != binary.BigEndian.Uint32(raw[len(raw)-trailerLen:]) {
		return r, fmt.Errorf("%w: checksum mismatch (damaged, or moved from another key or function)", errEnvelope)
	}
	defer func() {
		if p := recover(); p != nil { // a codec bug must not crash the caller
			err = fmt.Errorf("%w: decoder panicked: %v", errEnvelope, p)
		}
	}()
	return f.codec.Decode(body[headerLen:])
}
