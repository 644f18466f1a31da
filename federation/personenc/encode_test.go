package personenc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"testing"
)

func testKey(t testing.TB, federation string, version int, material string) Key {
	t.Helper()
	k, err := NewKey(federation, version, []byte(material))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testEncoder(t testing.TB, cfg Config, k Key, prev ...Key) *Encoder {
	t.Helper()
	e, err := NewEncoder(cfg, k, prev...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func dice(t testing.TB, e *Encoder, a, b string) float64 {
	t.Helper()
	x, err := e.Encode(Person{Name: a})
	if err != nil {
		t.Fatal(err)
	}
	y, err := e.Encode(Person{Name: b})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compare(x, y)
	if err != nil {
		t.Fatal(err)
	}
	return s.Dice
}

var variantGroups = [][]string{
	{"Олена Коваленко", "Olena Kovalenko", "Elena Kowalenko", "Helena Kowalenko", "Алёна Коваленко", "Kovalenko Olena", "KOWALENKO, Olena", "Jelena Kowalenko"},
	{"Галина Павленко", "Galina Pawlenko", "Halyna Pavlenko", "PAWLENKO Galina"},
	{"Шевченко", "Shevchenko", "Schewtschenko", "Szewczenko", "Chevtchenko"},
	{"Тетяна Захарченко", "Tetiana Zakharchenko", "SACHARTSCHENKO Tetjana", "Tetyana Zacharczenko"},
	{"Людмила Стасюк", "Lyudmila Stasyuk", "Liudmyla Stasiuk", "Lioudmyla Stassiouk", "Ljudmyla Stasjuk"},
	{"Сергій Гриценко", "Serhii Hrytsenko", "Sergey Gritsenko", "Serhij Hryzenko"},
}

// TestSpellingVariants: the spellings of one person compare at or above
// Threshold under the default scheme, and for each of several keys.
func TestSpellingVariants(t *testing.T) {
	for i := range 5 {
		e := testEncoder(t, DefaultConfig(), testKey(t, "fed.example", 1, fmt.Sprintf("variant test key material %d", i)))
		for _, g := range variantGroups {
			for _, v := range g[1:] {
				if d := dice(t, e, g[0], v); d < Threshold {
					t.Errorf("key %d: %q ~ %q: Dice %.3f < Threshold %.2f", i, g[0], v, d, Threshold)
				} else if i == 0 {
					t.Logf("%q ~ %q: %.3f", g[0], v, d)
				}
			}
		}
	}
}

// TestDifferentPeople: different people compare below Threshold, averaged
// over keys (each key gives other collisions) and for every key but with
// a margin.
func TestDifferentPeople(t *testing.T) {
	pairs := [][2]string{
		{"Olena Kovalenko", "Olena Koval"},
		{"Olena Kovalenko", "Galina Pawlenko"},
		{"Olena Kovalenko", "Wiktoria Bondarenko"},
		{"Halyna Pavlenko", "Halyna Savchenko"},
		{"Taras Shevchenko", "Taras Savchenko"},
	}
	const keys = 20
	for _, p := range pairs {
		var sum, hi float64
		for i := range keys {
			e := testEncoder(t, DefaultConfig(), testKey(t, "fed.example", 1, fmt.Sprintf("different test key %d", i)))
			d := dice(t, e, p[0], p[1])
			sum += d
			hi = max(hi, d)
		}
		mean := sum / keys
		t.Logf("%q vs %q: mean Dice %.3f, max %.3f over %d keys", p[0], p[1], mean, hi, keys)
		if mean >= Threshold || hi >= Threshold+0.05 {
			t.Errorf("%q vs %q: mean Dice %.3f, max %.3f; want below Threshold %.2f", p[0], p[1], mean, hi, Threshold)
		}
	}
}

func TestNormalisation(t *testing.T) {
	for name, want := range map[string]string{
		"Olena Kovalenko":  "alina kavalinka",
		"Kovalenko  Olena": "alina kavalinka",
		"Мар'яна":          "marana",
		"Szewczenko":       "SivSinka",
		"Прихо́дько":       "prihadka",
		"Przychodko":       "prsihadka",
		"  -- 42 ":         "",
	} {
		if got := strings.Join(tokens(name), " "); got != want {
			t.Errorf("tokens(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestKeysSeparate: the same name under another key, another federation or
// another version gives an unrelated encoding: its similarity is that of
// random filters of the same fill, not of the name.
func TestKeysSeparate(t *testing.T) {
	const name = "Olena Kovalenko"
	base := testKey(t, "fed-a.example", 1, "shared key material 0123456789")
	others := map[string]Key{
		"other material":   testKey(t, "fed-a.example", 1, "other key material 0123456789"),
		"other federation": testKey(t, "fed-b.example", 1, "shared key material 0123456789"),
	}
	for _, cfg := range []Config{DefaultConfig(), {Bits: 1024, Hashes: 8}} {
		a, err := testEncoder(t, cfg, base).Encode(Person{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		fill := float64(popcount(a.Bits)) / float64(cfg.Bits)
		for what, k := range others {
			b, err := testEncoder(t, cfg, k).Encode(Person{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			s, err := Compare(a, b)
			if err != nil {
				t.Fatal(err)
			}
			// Two independent random filters with fill f have Dice ≈ f.
			t.Logf("%+v, %s: Dice %.3f, random baseline %.3f", cfg, what, s.Dice, fill)
			if s.Dice > fill+0.15 {
				t.Errorf("%s: Dice %.3f, far above the random baseline %.3f", what, s.Dice, fill)
			}
		}
	}
	// Another version of the same federation's material cannot even be
	// compared.
	a, _ := testEncoder(t, DefaultConfig(), base).Encode(Person{Name: name})
	b, _ := testEncoder(t, DefaultConfig(), testKey(t, "fed-a.example", 2, "shared key material 0123456789")).Encode(Person{Name: name})
	if _, err := Compare(a, b); !errors.Is(err, ErrKeyVersionMismatch) {
		t.Fatalf("Compare across versions: %v, want ErrKeyVersionMismatch", err)
	}
	b.KeyVersion = a.KeyVersion
	if s, _ := Compare(a, b); s.Dice > 0.5 {
		t.Errorf("version 2 relabelled as 1: Dice %.3f, want near the random baseline", s.Dice)
	}
}

func popcount(b []byte) int {
	n := 0
	for _, x := range b {
		for ; x != 0; x &= x - 1 {
			n++
		}
	}
	return n
}

// TestNoClearText: no name, token, fold, gram or year is in the marshalled
// bytes, in UTF-8 or in the folded alphabet.
func TestNoClearText(t *testing.T) {
	e := testEncoder(t, DefaultConfig(), testKey(t, "fed.example", 1, "clear text test material"))
	for _, g := range variantGroups {
		for _, name := range g {
			enc, err := e.Encode(Person{Name: name, BirthYear: 1978})
			if err != nil {
				t.Fatal(err)
			}
			raw := enc.Marshal()
			needles := [][]byte{[]byte("1978"), []byte(name)}
			for _, w := range strings.FieldsFunc(name, func(r rune) bool { return r == ' ' || r == ',' }) {
				needles = append(needles, []byte(w), []byte(strings.ToLower(w)))
			}
			for _, tok := range tokens(name) {
				needles = append(needles, []byte(tok))
				for i := 0; i+3 <= len(tok); i++ {
					needles = append(needles, []byte(tok[i:i+3]))
				}
			}
			for _, n := range needles {
				// Shorter sequences occur by chance in 185 random bytes.
				if len(n) >= 4 && bytes.Contains(raw, n) {
					t.Errorf("%q: encoding contains %q", name, n)
				}
			}
		}
	}
}

func TestBirthYear(t *testing.T) {
	e := testEncoder(t, DefaultConfig(), testKey(t, "fed.example", 1, "birth year test material"))
	enc := func(y int) Encoding {
		x, err := e.Encode(Person{Name: "Olena Kovalenko", BirthYear: y})
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	for _, c := range []struct {
		a, b int
		want YearAgreement
	}{{1978, 1978, YearSame}, {1978, 1979, YearNear}, {1979, 1978, YearNear}, {1978, 1980, YearDifferent}, {1978, 0, YearUnknown}, {0, 0, YearUnknown}} {
		s, err := Compare(enc(c.a), enc(c.b))
		if err != nil {
			t.Fatal(err)
		}
		if s.Year != c.want || s.Dice != 1 {
			t.Errorf("years %d, %d: %v Dice %.3f, want %v and 1", c.a, c.b, s.Year, s.Dice, c.want)
		}
	}
	if _, err := e.Encode(Person{Name: "X", BirthYear: 12}); !errors.Is(err, ErrInvalidBirthYear) {
		t.Errorf("year 12: %v", err)
	}
}

// TestRotation: EncodeAll gives the current and the previous encodings;
// previous compares with previous, never with current.
func TestRotation(t *testing.T) {
	v1 := testKey(t, "fed.example", 1, "material of version one ....")
	v2 := testKey(t, "fed.example", 2, "material of version two ....")
	oldPeer := testEncoder(t, DefaultConfig(), v1)
	rotated := testEncoder(t, DefaultConfig(), v2, v1)
	all, err := rotated.EncodeAll(Person{Name: "Halyna Pavlenko", BirthYear: 1961})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].KeyVersion != 2 || all[1].KeyVersion != 1 {
		t.Fatalf("EncodeAll: %d encodings, versions %v", len(all), all)
	}
	peer, err := oldPeer.Encode(Person{Name: "Галина Павленко", BirthYear: 1961})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compare(all[1], peer)
	if err != nil || s.Dice < Threshold || s.Year != YearSame {
		t.Fatalf("previous-key encodings: %+v, %v", s, err)
	}
	if _, err := Compare(all[0], peer); !errors.Is(err, ErrKeyVersionMismatch) {
		t.Fatalf("current vs previous: %v", err)
	}
	if _, err := NewEncoder(DefaultConfig(), v1, v1); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("duplicate version: %v", err)
	}
}

func TestErrors(t *testing.T) {
	if _, err := NewKey("fed", 1, make([]byte, 15)); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("short material: %v", err)
	}
	if _, err := NewKey("", 1, make([]byte, 16)); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("no federation: %v", err)
	}
	if _, err := NewEncoder(DefaultConfig(), Key{}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("zero key: %v", err)
	}
	k := testKey(t, "fed", 1, "0123456789abcdef")
	for _, c := range []Config{{Bits: 1000, Hashes: 8}, {Bits: 1024}, {Bits: 1024, Hashes: 8, FlipProbability: 0.5}} {
		if _, err := NewEncoder(c, k); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	e := testEncoder(t, DefaultConfig(), k)
	secret := "Olena Kovalenko" + strings.Repeat(" x", MaxNameBytes)
	for name, want := range map[string]error{"": ErrEmptyName, "1234 --": ErrEmptyName, secret: ErrNameTooLong} {
		_, err := e.Encode(Person{Name: name})
		if !errors.Is(err, want) {
			t.Errorf("Encode(%.20q): %v, want %v", name, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "Kovalenko") {
			t.Errorf("error message contains the name: %v", err)
		}
	}
	a, _ := e.Encode(Person{Name: "A"})
	b, _ := testEncoder(t, Config{Bits: 1024, Hashes: 8}, k).Encode(Person{Name: "A"})
	if _, err := Compare(a, b); !errors.Is(err, ErrSchemeMismatch) {
		t.Errorf("other scheme: %v", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	e := testEncoder(t, DefaultConfig(), testKey(t, "fed", 7, "0123456789abcdef"))
	for _, p := range []Person{{Name: "Olena Kovalenko", BirthYear: 1978}, {Name: "Шевченко"}} {
		enc, err := e.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		raw := enc.Marshal()
		wantLen := 137
		if p.BirthYear != 0 {
			wantLen = 185
		}
		if len(raw) != wantLen {
			t.Errorf("marshalled length %d, want %d", len(raw), wantLen)
		}
		var got Encoding
		if err := got.UnmarshalBinary(raw); err != nil {
			t.Fatal(err)
		}
		if got.KeyVersion != enc.KeyVersion || got.Scheme != enc.Scheme || !bytes.Equal(got.Bits, enc.Bits) ||
			got.HasYear != enc.HasYear || got.YearTags != enc.YearTags {
			t.Fatal("round trip differs")
		}
		if s, err := Compare(got, enc); err != nil || s.Dice != 1 {
			t.Fatalf("round trip compares %+v, %v", s, err)
		}
		for _, bad := range [][]byte{nil, raw[:len(raw)-1], append(append([]byte(nil), raw...), 0), append([]byte{2}, raw[1:]...)} {
			if _, err := Unmarshal(bad); !errors.Is(err, ErrMalformed) {
				t.Errorf("Unmarshal of %d bad bytes: %v", len(bad), err)
			}
		}
	}
}

func FuzzEncode(f *testing.F) {
	for _, g := range variantGroups {
		for _, n := range g {
			f.Add(n, 1978)
		}
	}
	f.Add("", 0)
	f.Add("\xff\xfe ʼ’ Ё ŝ ß", 2150)
	e := testEncoder(f, DefaultConfig(), testKey(f, "fuzz", 1, "fuzz key material 0123"))
	f.Fuzz(func(t *testing.T, name string, year int) {
		a, errA := e.Encode(Person{Name: name, BirthYear: year})
		b, errB := e.Encode(Person{Name: name, BirthYear: year})
		if (errA == nil) != (errB == nil) {
			t.Fatal("non-deterministic error")
		}
		if errA != nil {
			return
		}
		if !bytes.Equal(a.Marshal(), b.Marshal()) {
			t.Fatal("non-deterministic encoding")
		}
		s, err := Compare(a, b)
		if err != nil || s.Dice != 1 {
			t.Fatalf("self-comparison %+v, %v", s, err)
		}
		if _, err := Unmarshal(a.Marshal()); err != nil {
			t.Fatal(err)
		}
		_, _ = Unmarshal([]byte(name))
	})
}

// TestKnownAnswer pins the encodings of the variant groups: a change of
// the scheme that changes a bit must change the scheme's fingerprint too
// (stored encodings of other members would no longer compare), so it
// fails here first. An encoder gives the same encodings every time.
func TestKnownAnswer(t *testing.T) {
	k := testKey(t, "kat.accord.test", 3, "known answer key material")
	digest := func(e *Encoder) string {
		h := sha256.New()
		for _, g := range variantGroups {
			for _, name := range g {
				x, err := e.Encode(Person{Name: name, BirthYear: 1971})
				if err != nil {
					t.Fatal(err)
				}
				h.Write(x.Bits)
				for _, tag := range x.YearTags {
					h.Write(tag[:])
				}
			}
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	e := testEncoder(t, DefaultConfig(), k)
	cold := digest(e)
	if again := digest(e); again != cold {
		t.Fatalf("second run %s, first %s", again, cold)
	}
	const want = "a0a5d1371d48d667a67e873b5b639b0b68e87491dd959db185c40e7688acc124" // scheme personenc/v1, blip=gaps
	if cold != want {
		t.Fatalf("encodings changed: digest %s, want %s", cold, want)
	}
}

// TestFlipRate: BLIP flips each bit with the configured probability,
// independently of its position: the bits in which an encoding differs
// from the unhardened one, over many names, are a share p of all bits,
// as often in every eighth of the filter, and the number of flips per
// encoding has the binomial variance.
func TestFlipRate(t *testing.T) {
	k := testKey(t, "flip.accord.test", 1, "flip rate key material")
	for _, p := range []float64{0.02, 0.1} {
		noisy := testEncoder(t, Config{Bits: 1024, Hashes: 8, FlipProbability: p}, k)
		plain := testEncoder(t, Config{Bits: 1024, Hashes: 8}, k)
		const names = 3000
		var parts [8]int
		var sum, sumSq float64
		for i := range names {
			name := letterName(i)
			a, err := noisy.Encode(Person{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			b, err := plain.Encode(Person{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for j := range a.Bits {
				d := bits.OnesCount8(a.Bits[j] ^ b.Bits[j])
				parts[j*8/len(a.Bits)] += d
				n += d
			}
			sum += float64(n)
			sumSq += float64(n) * float64(n)
		}
		total := float64(names * 1024)
		rate := sum / total
		// The standard error of the rate is below 0.0004 for p ≤ 0.1.
		if math.Abs(rate-p) > 0.002 {
			t.Errorf("p=%v: %.4f of the bits flipped", p, rate)
		}
		for i, c := range parts {
			if r := float64(c) / (total / 8); math.Abs(r-p) > 0.006 {
				t.Errorf("p=%v: %.4f of the bits flipped in eighth %d", p, r, i)
			}
		}
		mean := sum / names
		variance := sumSq/names - mean*mean
		if want := 1024 * p * (1 - p); math.Abs(variance-want) > 0.15*want {
			t.Errorf("p=%v: variance of flips per encoding %.1f, binomial %.1f", p, variance, want)
		}
	}
}

// letterName returns a distinct name of letters for each i (digits are
// not part of a name's tokens).
func letterName(i int) string {
	syl := []string{"ka", "lo", "mir", "sen", "to", "va", "rek", "di", "bo", "zan"}
	var b strings.Builder
	for w := range 2 {
		n := i*(w+3) + w
		for range 4 {
			b.WriteString(syl[n%len(syl)])
			n /= len(syl)
		}
		b.WriteByte(' ')
	}
	return b.String()
}

// TestTokenCacheSameEncodings: an encoder with a token cache folds names
// word by word and gives the same encodings, cold and warm.
func TestTokenCacheSameEncodings(t *testing.T) {
	k := testKey(t, "cache.accord.test", 1, "token cache key material")
	plain := testEncoder(t, DefaultConfig(), k)
	cached := plain.WithTokenCache(1000)
	names := []string{"Дмитро Зінченко", "Zinchenko  Dmytro", "Charków\u00a0Ołeh", "O'Brien Ol'ha", "Ёлкин \u0301Пётр", "Müller-Lüdenscheidt", "x", "Мар'яна  Ґудзь-Їжак"}
	for _, g := range variantGroups {
		names = append(names, g...)
	}
	for i := range 50 {
		names = append(names, letterName(i))
	}
	for round := range 2 {
		for _, n := range names {
			want, err1 := plain.Encode(Person{Name: n, BirthYear: 1980})
			got, err2 := cached.Encode(Person{Name: n, BirthYear: 1980})
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("%q: errors %v and %v", n, err1, err2)
			}
			if !bytes.Equal(want.Bits, got.Bits) || want.YearTags != got.YearTags {
				t.Errorf("round %d, %q: cached encoding differs", round, n)
			}
			if !slices.Equal(tokens(n), cached.tokens(n)) {
				t.Errorf("round %d, %q: tokens %v, cached %v", round, n, tokens(n), cached.tokens(n))
			}
		}
	}
}
