package personenc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Limits of the input.
const (
	// MaxNameBytes is the longest name (in UTF-8 bytes) the Encode methods
	// accept.
	MaxNameBytes = 1024
	// MinBirthYear and MaxBirthYear bound a present birth year.
	MinBirthYear = 1850
	MaxBirthYear = 2150
)

// Person is what is encoded: a name in any script and spelling, and an
// optional birth year (0 = unknown). The role is not encoded.
type Person struct {
	Name      string
	BirthYear int
}

// Config fixes the encoding scheme. Every member of a federation must use
// the same Config (it belongs in the federation's registry settings beside
// the key version): encodings of different configs do not compare.
type Config struct {
	// Bits is the Bloom filter length m: a power of two from 64 to 65536.
	Bits int
	// Hashes is the number k of bit positions set per bigram, 1 to 64.
	Hashes int
	// FlipProbability is the BLIP hardening: each bit of the filter is
	// flipped with this probability, by a keyed pseudo-random stream seeded
	// from the folded name (permanent randomized response, so the same name
	// always gives the same encoding). 0 disables it; at most 0.25.
	FlipProbability float64
}

// DefaultConfig is the scheme Accord federations use unless their registry
// says otherwise: m = 1024, k = 8, BLIP flip probability 0.02. The choice is
// measured in docs/person-encodings.md.
func DefaultConfig() Config {
	return Config{Bits: 1024, Hashes: 8, FlipProbability: 0.02}
}

// Validate reports the first field out of range, wrapping
// [ErrInvalidConfig].
func (c Config) Validate() error {
	switch {
	case c.Bits < 64 || c.Bits > 65536 || c.Bits&(c.Bits-1) != 0:
		return fmt.Errorf("%w: Bits %d is not a power of two in [64, 65536]", ErrInvalidConfig, c.Bits)
	case c.Hashes < 1 || c.Hashes > 64:
		return fmt.Errorf("%w: Hashes %d is not in [1, 64]", ErrInvalidConfig, c.Hashes)
	case !(c.FlipProbability >= 0 && c.FlipProbability <= 0.25):
		return fmt.Errorf("%w: FlipProbability %v is not in [0, 0.25]", ErrInvalidConfig, c.FlipProbability)
	}
	return nil
}

// Epsilon is the differential-privacy parameter of the BLIP hardening for
// one bigram: replacing one bigram of a name changes at most 2k bits, each
// flipped with probability p, so ε = 2k·ln((1−p)/p). It is +Inf without
// hardening. It bounds what one encoding reveals about one bigram; it is
// not a guarantee for a whole name, and not across several encodings of
// different spellings of one name.
func (c Config) Epsilon() float64 {
	p := c.FlipProbability
	if p <= 0 {
		return math.Inf(1)
	}
	return 2 * float64(c.Hashes) * math.Log((1-p)/p)
}

// scheme is the fingerprint of everything besides the key that two
// encodings must share to be comparable.
func (c Config) scheme() uint32 {
	s := "personenc/v1/" + normVersion + "/m=" + strconv.Itoa(c.Bits) + "/k=" + strconv.Itoa(c.Hashes) +
		"/f=" + strconv.FormatFloat(c.FlipProbability, 'g', -1, 64) + "/w=" + strconv.Itoa(tokenWeight) + blipVersion
	h := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint32(h[:4])
}

// blipVersion names how the flipped bits are drawn: "" (the first
// scheme) drew one number per bit; "/blip=gaps" draws the gaps between
// flipped bits. The distribution is the same, the bits are not.
const blipVersion = "/blip=gaps"

// Encoding is the keyed encoding of one person under one key version. It
// is safe to send to federation peers: it holds no name, token or year in
// clear (see the package documentation for what it still reveals).
type Encoding struct {
	// KeyVersion is the version of the key that made it.
	KeyVersion int
	// Scheme fingerprints the Config and the normalisation rules.
	Scheme uint32
	// Bits is the Bloom filter, Config.Bits/8 bytes, bit i at
	// Bits[i/8] & (1 << (i%8)).
	Bits []byte
	// HasYear says whether a birth year was given; YearTags is then the
	// keyed tags of year−1, year and year+1 (zero otherwise).
	HasYear  bool
	YearTags [3][YearTagSize]byte
}

// YearTagSize is the length of one keyed birth-year tag (truncated
// HMAC-SHA256).
const YearTagSize = 16

// Encoder makes encodings under a current key and, during a rotation, the
// previous keys. It is safe for concurrent use.
type Encoder struct {
	cfg      Config
	scheme   uint32
	current  Key
	previous []Key
	words    *wordCache // see WithTokenCache
}

// NewEncoder returns an Encoder for cfg that encodes under current and,
// in [Encoder.EncodeAll], also under each of previous (keys still accepted
// while a rotation is in progress). Key versions must be distinct.
func NewEncoder(cfg Config, current Key, previous ...Key) (*Encoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	for i, k := range append([]Key{current}, previous...) {
		if !k.valid() {
			return nil, fmt.Errorf("%w: key %d was not made by NewKey", ErrInvalidKey, i)
		}
		if seen[k.version] {
			return nil, fmt.Errorf("%w: key version %d given twice", ErrInvalidKey, k.version)
		}
		seen[k.version] = true
	}
	return &Encoder{cfg: cfg, scheme: cfg.scheme(), current: current, previous: append([]Key(nil), previous...)}, nil
}

// Config returns the encoder's scheme.
func (e *Encoder) Config() Config { return e.cfg }

// Encode encodes p under the current key.
func (e *Encoder) Encode(p Person) (Encoding, error) {
	toks, err := e.prepare(p)
	if err != nil {
		return Encoding{}, err
	}
	return e.encode(e.current, toks, p.BirthYear), nil
}

// EncodeAll encodes p under the current key and then under every previous
// key, in the order given to [NewEncoder]. During a rotation a node
// publishes all of them, so that peers still on an older key can compare.
func (e *Encoder) EncodeAll(p Person) ([]Encoding, error) {
	toks, err := e.prepare(p)
	if err != nil {
		return nil, err
	}
	out := make([]Encoding, 0, 1+len(e.previous))
	out = append(out, e.encode(e.current, toks, p.BirthYear))
	for _, k := range e.previous {
		out = append(out, e.encode(k, toks, p.BirthYear))
	}
	return out, nil
}

// WithTokenCache returns an encoder like e that keeps the folded tokens
// of up to limit distinct name words (whitespace-separated pieces of names)
// in memory for its lifetime: batches of many names, where first names
// and surnames repeat, spend half their time folding otherwise. The
// encodings are the same. For offline batch runs: a node should not hold
// name words longer than it needs them.
func (e *Encoder) WithTokenCache(limit int) *Encoder {
	c := *e
	c.words = &wordCache{max: int64(limit)}
	return &c
}

// wordCache holds the raw tokens of name words.
type wordCache struct {
	m   sync.Map // word → []string
	n   atomic.Int64
	max int64
}

func (e *Encoder) tokens(name string) []string {
	c := e.words
	if c == nil {
		return tokens(name)
	}
	var out []string
	for _, w := range strings.Fields(name) {
		if v, ok := c.m.Load(w); ok {
			out = append(out, v.([]string)...)
			continue
		}
		v := rawTokens(w)
		if c.n.Load() < c.max {
			c.n.Add(1)
			c.m.Store(strings.Clone(w), slices.Clip(v))
		}
		out = append(out, v...)
	}
	return sortedSet(out)
}

func (e *Encoder) prepare(p Person) ([]string, error) {
	if len(p.Name) > MaxNameBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrNameTooLong, len(p.Name), MaxNameBytes)
	}
	if p.BirthYear != 0 && (p.BirthYear < MinBirthYear || p.BirthYear > MaxBirthYear) {
		return nil, fmt.Errorf("%w: %d is not in [%d, %d]", ErrInvalidBirthYear, p.BirthYear, MinBirthYear, MaxBirthYear)
	}
	toks := e.tokens(p.Name)
	if len(toks) == 0 {
		return nil, ErrEmptyName
	}
	return toks, nil
}

func (e *Encoder) encode(k Key, toks []string, year int) Encoding {
	m := e.cfg.Bits
	mask := uint32(m - 1)
	filter := make([]byte, m/8)
	macs := k.getMACs()
	defer k.putMACs(macs)
	mac := macs.gram
	var sum [sha256.Size]byte
	var buf [64]byte // a gram: longer tokens go to the heap
	// set sets the positions of block j of the gram in msg. Bigrams
	// repeat from name to name: their HMAC outputs are kept with the
	// HMACs (keep). Whole tokens are not: they are name words.
	set := func(j int, msg []byte, keep bool) {
		if v, ok := macs.grams[string(msg)]; keep && ok {
			sum = v
		} else {
			mac.Reset()
			mac.Write(msg)
			mac.Sum(sum[:0])
			if keep && len(macs.grams) < maxCachedGrams {
				macs.grams[string(msg)] = sum
			}
		}
		for t := 0; t < 16 && j*16+t < e.cfg.Hashes; t++ {
			pos := uint32(binary.BigEndian.Uint16(sum[2*t:])) & mask
			filter[pos/8] |= 1 << (pos % 8)
		}
	}
	for _, tok := range toks {
		for w := 0; w < tokenWeight; w++ {
			// The whole token as an extra gram, so that agreement of a
			// whole folded word counts beyond its bigrams (Koval is not
			// Kovalenko although its bigrams are a subset).
			for j := 0; j*16 < e.cfg.Hashes; j++ {
				set(j, append(append(buf[:0], byte(j), 0xff, byte(w)), tok...), false)
			}
		}
		// The bigrams of ^tok$, as UTF-8. Random hashing: every position
		// comes from its own 16 bits of HMAC output (block j covers
		// positions 16j..16j+15), not from double hashing, whose
		// arithmetic progressions of positions are what the
		// Kroll–Steinmetzer and Niedermeyer attacks exploit.
		bigram := func(a, b rune) {
			for j := 0; j*16 < e.cfg.Hashes; j++ {
				set(j, utf8.AppendRune(utf8.AppendRune(append(buf[:0], byte(j)), a), b), true)
			}
		}
		prev := '^'
		for _, r := range tok {
			bigram(prev, r)
			prev = r
		}
		bigram(prev, '$')
	}
	if f := e.cfg.FlipProbability; f > 0 {
		nm := macs.noise
		nm.Reset()
		nm.Write([]byte("blip\x00" + strings.Join(toks, "\x00")))
		var seed [32]byte
		copy(seed[:], nm.Sum(sum[:0]))
		// Each bit flips with probability f, independently: the gaps
		// between flipped bits are geometric, drawn by inversion (about
		// m·f draws instead of one per bit).
		rng := rand.NewChaCha8(seed)
		lq := math.Log1p(-f)
		for i := -1; ; {
			u := float64(rng.Uint64()>>11+1) / (1 << 53) // in (0, 1]
			gap := math.Floor(math.Log(u) / lq)
			if gap >= float64(m) {
				break
			}
			if i += int(gap) + 1; i >= m {
				break
			}
			filter[i/8] ^= 1 << (i % 8)
		}
	}
	enc := Encoding{KeyVersion: k.version, Scheme: e.scheme, Bits: filter}
	if year != 0 {
		enc.HasYear = true
		ym := macs.year
		for i := range 3 {
			ym.Reset()
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(int64(year-1+i)))
			ym.Write([]byte("year\x00"))
			ym.Write(b[:])
			copy(enc.YearTags[i][:], ym.Sum(sum[:0]))
		}
	}
	return enc
}

// YearAgreement is what two encodings say about the birth years.
type YearAgreement int

const (
	// YearUnknown means that at least one of the two has no birth year.
	YearUnknown YearAgreement = iota
	// YearDifferent means that the years differ by more than one.
	YearDifferent
	// YearNear means that the years differ by exactly one.
	YearNear
	// YearSame means that the years are equal.
	YearSame
)

func (y YearAgreement) String() string {
	switch y {
	case YearUnknown:
		return "unknown"
	case YearDifferent:
		return "different"
	case YearNear:
		return "near"
	case YearSame:
		return "same"
	}
	return "YearAgreement(" + strconv.Itoa(int(y)) + ")"
}

// Similarity is the result of [Compare].
type Similarity struct {
	// Dice is 2|A∧B| / (|A|+|B|) over the filters' set bits, in [0, 1].
	Dice float64
	// Year says whether the birth years agree.
	Year YearAgreement
}

// Compare returns the Dice similarity of two encodings' filters and their
// birth-year agreement. It refuses, wrapping [ErrKeyVersionMismatch] or
// [ErrSchemeMismatch], encodings that were not made under the same key
// version and scheme; comparing them would give a meaningless number.
func Compare(a, b Encoding) (Similarity, error) {
	if a.KeyVersion != b.KeyVersion {
		return Similarity{}, fmt.Errorf("%w: %d and %d", ErrKeyVersionMismatch, a.KeyVersion, b.KeyVersion)
	}
	if a.Scheme != b.Scheme || len(a.Bits) != len(b.Bits) {
		return Similarity{}, fmt.Errorf("%w: scheme %08x with %d bytes and scheme %08x with %d bytes",
			ErrSchemeMismatch, a.Scheme, len(a.Bits), b.Scheme, len(b.Bits))
	}
	var na, nb, both int
	i := 0
	for ; i+8 <= len(a.Bits); i += 8 {
		x := binary.LittleEndian.Uint64(a.Bits[i:])
		y := binary.LittleEndian.Uint64(b.Bits[i:])
		na += bits.OnesCount64(x)
		nb += bits.OnesCount64(y)
		both += bits.OnesCount64(x & y)
	}
	for ; i < len(a.Bits); i++ {
		na += bits.OnesCount8(a.Bits[i])
		nb += bits.OnesCount8(b.Bits[i])
		both += bits.OnesCount8(a.Bits[i] & b.Bits[i])
	}
	var s Similarity
	if na+nb > 0 {
		s.Dice = 2 * float64(both) / float64(na+nb)
	}
	switch {
	case !a.HasYear || !b.HasYear:
		s.Year = YearUnknown
	case hmac.Equal(a.YearTags[1][:], b.YearTags[1][:]):
		s.Year = YearSame
	case hmac.Equal(a.YearTags[1][:], b.YearTags[0][:]) || hmac.Equal(a.YearTags[1][:], b.YearTags[2][:]):
		s.Year = YearNear
	default:
		s.Year = YearDifferent
	}
	return s, nil
}

// Threshold is the Dice similarity at or above which two encodings of the
// default scheme are taken to name the same person; it is measured in
// docs/person-encodings.md.
const Threshold = 0.75

// tokenWeight is how many times each whole folded token is added as a gram
// of its own (beside its bigrams). Part of the scheme fingerprint.
const tokenWeight = 1
