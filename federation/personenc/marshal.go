package personenc

import (
	"encoding/binary"
	"fmt"
)

// formatV1 is the first byte of a marshalled encoding.
const formatV1 = 0x01

// Marshal returns the compact binary form (format version 1):
//
//	u8(0x01)                 format version
//	uvarint(key version)
//	u32(scheme)              big-endian
//	uvarint(len(Bits))       bytes, a power of two from 8 to 8192
//	Bits
//	u8(flags)                bit 0: has year; other bits zero
//	3 × 16 bytes             year tags, only when bit 0 is set
//
// 185 bytes with a year and 137 without, for the default 1024-bit filter.
func (e Encoding) Marshal() []byte {
	out := make([]byte, 0, 1+binary.MaxVarintLen64+4+binary.MaxVarintLen64+len(e.Bits)+1+3*YearTagSize)
	out = append(out, formatV1)
	out = binary.AppendUvarint(out, uint64(e.KeyVersion))
	out = binary.BigEndian.AppendUint32(out, e.Scheme)
	out = binary.AppendUvarint(out, uint64(len(e.Bits)))
	out = append(out, e.Bits...)
	if e.HasYear {
		out = append(out, 1)
		for _, t := range e.YearTags {
			out = append(out, t[:]...)
		}
	} else {
		out = append(out, 0)
	}
	return out
}

// MarshalBinary implements encoding.BinaryMarshaler; it never fails.
func (e Encoding) MarshalBinary() ([]byte, error) { return e.Marshal(), nil }

// UnmarshalBinary implements encoding.BinaryUnmarshaler with [Unmarshal].
func (e *Encoding) UnmarshalBinary(b []byte) error {
	d, err := Unmarshal(b)
	if err != nil {
		return err
	}
	*e = d
	return nil
}

// Unmarshal parses the form [Encoding.Marshal] writes. It rejects, wrapping
// [ErrMalformed], any other byte string, trailing bytes included. The
// result does not share memory with b.
func Unmarshal(b []byte) (Encoding, error) {
	if len(b) == 0 || b[0] != formatV1 {
		return Encoding{}, fmt.Errorf("%w: not format version 1", ErrMalformed)
	}
	b = b[1:]
	kv, n := binary.Uvarint(b)
	if n <= 0 || kv > 1<<31-1 {
		return Encoding{}, fmt.Errorf("%w: bad key version", ErrMalformed)
	}
	b = b[n:]
	if len(b) < 4 {
		return Encoding{}, fmt.Errorf("%w: truncated scheme", ErrMalformed)
	}
	e := Encoding{KeyVersion: int(kv), Scheme: binary.BigEndian.Uint32(b)}
	b = b[4:]
	nb, n := binary.Uvarint(b)
	if n <= 0 || nb < 8 || nb > 8192 || nb&(nb-1) != 0 {
		return Encoding{}, fmt.Errorf("%w: bad filter length", ErrMalformed)
	}
	b = b[n:]
	if uint64(len(b)) < nb+1 {
		return Encoding{}, fmt.Errorf("%w: truncated filter", ErrMalformed)
	}
	e.Bits = append([]byte(nil), b[:nb]...)
	flags := b[nb]
	b = b[nb+1:]
	switch flags {
	case 0:
	case 1:
		if len(b) < 3*YearTagSize {
			return Encoding{}, fmt.Errorf("%w: truncated year tags", ErrMalformed)
		}
		e.HasYear = true
		for i := range e.YearTags {
			copy(e.YearTags[i][:], b[i*YearTagSize:])
		}
		b = b[3*YearTagSize:]
	default:
		return Encoding{}, fmt.Errorf("%w: unknown flags %#x", ErrMalformed, flags)
	}
	if len(b) != 0 {
		return Encoding{}, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b))
	}
	return e, nil
}
