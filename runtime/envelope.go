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
//	magic "pc" | format (1 byte) | fingerprint of Codec.Type (8 bytes) | payload | CRC-32C of all before (4 bytes)
//
// so that a value written by other code, by another result type or
// damaged in the store is recognised and treated as a miss.
const (
	envelopeFormat = 1
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

func (f *Func[R]) encode(r R) []byte {
	buf := make([]byte, headerLen, 64)
	copy(buf, envelopeMagic[:])
	buf[2] = envelopeFormat
	copy(buf[3:], f.fp[:])
	buf = f.codec.Append(buf, r)
	return binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
}

var errEnvelope = errors.New("picocache: stored value is not a valid entry")

// decode opens an envelope written by encode for the same result type.
func (f *Func[R]) decode(raw []byte) (r R, err error) {
	if len(raw) < headerLen+trailerLen ||
		!bytes.Equal(raw[:2], envelopeMagic[:]) ||
		raw[2] != envelopeFormat {
		return r, errEnvelope
	}
	if !bytes.Equal(raw[3:headerLen], f.fp[:]) {
		return r, fmt.Errorf("%w: written for another result type", errEnvelope)
	}
	body := raw[:len(raw)-trailerLen]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(raw[len(raw)-trailerLen:]) {
		return r, fmt.Errorf("%w: checksum mismatch", errEnvelope)
	}
	defer func() {
		if p := recover(); p != nil { // a codec bug must not crash the caller
			err = fmt.Errorf("%w: decoder panicked: %v", errEnvelope, p)
		}
	}()
	return f.codec.Decode(body[headerLen:])
}
