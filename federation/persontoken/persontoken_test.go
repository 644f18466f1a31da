package persontoken_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/accordfed/accord/federation/personenc"
	"github.com/accordfed/accord/federation/persontoken"
)

func mustKey(t testing.TB) *persontoken.Key {
	t.Helper()
	k, err := persontoken.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustInput(t testing.TB, name string, year int) persontoken.Input {
	t.Helper()
	in, err := persontoken.Inputs(persontoken.Person{Name: name, BirthYear: year})
	if err != nil {
		t.Fatalf("inputs: %v", err)
	}
	return in
}

// evaluate runs the blinded protocol between an asker and the origin's key.
func evaluate(t testing.TB, origin *persontoken.Key, ins ...persontoken.Input) []persontoken.Tokens {
	t.Helper()
	req, err := persontoken.NewRequest("k", origin.Public(), ins)
	if err != nil {
		t.Fatal(err)
	}
	ev, proof, err := origin.Evaluate(req.Elements)
	if err != nil {
		t.Fatal(err)
	}
	out, err := req.Finish(ev, proof)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBlindedEqualsDirect(t *testing.T) {
	origin := mustKey(t)
	a := mustInput(t, "Олена Коваленко", 1978)
	b := mustInput(t, "Mykola Shevchenko", 0)
	got := evaluate(t, origin, a, b)
	for i, in := range []persontoken.Input{a, b} {
		want, err := origin.Tokens("k", in)
		if err != nil {
			t.Fatal(err)
		}
		ag := persontoken.Compare(&want, &got[i])
		if !ag.Comparable || !ag.Name || !ag.Similar {
			t.Fatalf("person %d: blinded tokens differ from the origin's: %+v", i, ag)
		}
		if got[i].HasYear != want.HasYear {
			t.Fatalf("person %d: year presence differs", i)
		}
		if want.HasYear && ag.Year != persontoken.YearSame {
			t.Fatalf("person %d: year relation %v, want same", i, ag.Year)
		}
	}
}

func TestSpellingsAgree(t *testing.T) {
	k := mustKey(t)
	base, err := k.Tokens("k", mustInput(t, "Olena Kovalenko", 1978))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		year       int
		wantName   bool
		wantSimilr bool
		wantYear   persontoken.YearRelation
	}{
		{"Олена Коваленко", 1978, true, true, persontoken.YearSame},
		{"Elena Kowalenko", 1979, true, true, persontoken.YearNear},
		{"KOVALENKO Helena", 1977, true, true, persontoken.YearNear},
		{"Алёна Коваленко", 0, true, true, persontoken.YearUnknown},
		{"Olena Petrivna Kovalenko", 1978, false, true, persontoken.YearSame},
		{"Olena Kovalenko", 1990, true, true, persontoken.YearDifferent},
		{"Olena Koval", 1978, false, false, persontoken.YearUnknown},
		{"Halyna Pavlenko", 1978, false, false, persontoken.YearUnknown},
	} {
		other := mustInput(t, tc.name, tc.year)
		asked := evaluate(t, k, other)[0]
		ag := persontoken.Compare(&base, &asked)
		if ag.Name != tc.wantName || ag.Similar != tc.wantSimilr || ag.Year != tc.wantYear {
			t.Errorf("%s %d: got %+v, want name %v similar %v year %v", tc.name, tc.year, ag, tc.wantName, tc.wantSimilr, tc.wantYear)
		}
	}
}

func TestOtherKeyNeverAgrees(t *testing.T) {
	a, b := mustKey(t), mustKey(t)
	in := mustInput(t, "Olena Kovalenko", 1978)
	ta, _ := a.Tokens("k", in)
	tb, _ := b.Tokens("k", in)
	if ag := persontoken.Compare(&ta, &tb); ag.Similar || ag.Name {
		t.Fatalf("tokens of two keys agree: %+v", ag)
	}
	tb.Key = "other"
	if ag := persontoken.Compare(&ta, &tb); ag.Comparable {
		t.Fatal("tokens named by different keys are comparable")
	}
}

func TestProofPinsTheKey(t *testing.T) {
	published, actual := mustKey(t), mustKey(t)
	req, err := persontoken.NewRequest("k", published.Public(), []persontoken.Input{mustInput(t, "Olena Kovalenko", 0)})
	if err != nil {
		t.Fatal(err)
	}
	ev, proof, err := actual.Evaluate(req.Elements)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := req.Finish(ev, proof); !errors.Is(err, persontoken.ErrProof) {
		t.Fatalf("an evaluation with another key than the published one: err %v, want ErrProof", err)
	}
}

func TestEvaluateRefusesBadElements(t *testing.T) {
	k := mustKey(t)
	if _, _, err := k.Evaluate(nil); !errors.Is(err, persontoken.ErrMalformed) {
		t.Fatalf("no elements: %v", err)
	}
	if _, _, err := k.Evaluate([][]byte{bytes.Repeat([]byte{0xff}, 32)}); !errors.Is(err, persontoken.ErrMalformed) {
		t.Fatalf("not a point: %v", err)
	}
	if _, _, err := k.Evaluate([][]byte{make([]byte, 32)}); !errors.Is(err, persontoken.ErrMalformed) {
		t.Fatalf("identity: %v", err)
	}
	many := make([][]byte, persontoken.MaxBatch+1)
	if _, _, err := k.Evaluate(many); !errors.Is(err, persontoken.ErrTooMany) {
		t.Fatalf("too many: %v", err)
	}
}

func TestKeyRoundTrip(t *testing.T) {
	k := mustKey(t)
	k2, err := persontoken.ParseKey(k.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.Public(), k2.Public()) {
		t.Fatal("parsed key has another public key")
	}
	if _, err := persontoken.ParseKey([]byte{1, 2}); !errors.Is(err, persontoken.ErrInvalidKey) {
		t.Fatalf("short key: %v", err)
	}
	if _, err := persontoken.NewRequest("k", []byte{1}, []persontoken.Input{mustInput(t, "A B", 0)}); !errors.Is(err, persontoken.ErrInvalidKey) {
		t.Fatalf("bad public key: %v", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	k := mustKey(t)
	for _, year := range []int{0, 1978} {
		tok, err := k.Tokens("UA/n1.1", mustInput(t, "Olena Kovalenko", year))
		if err != nil {
			t.Fatal(err)
		}
		b := tok.Marshal()
		if want := map[int]int{0: 34, 1978: 82}[year]; len(b) != want {
			t.Fatalf("year %d: %d bytes, want %d", year, len(b), want)
		}
		back, err := persontoken.Unmarshal("UA/n1.1", b)
		if err != nil {
			t.Fatal(err)
		}
		if back != tok {
			t.Fatalf("year %d: round trip differs", year)
		}
		for _, bad := range [][]byte{nil, b[:len(b)-1], append(append([]byte(nil), b...), 0), append([]byte{1}, b[1:]...), append([]byte{2, 6}, b[2:]...)} {
			if _, err := persontoken.Unmarshal("k", bad); !errors.Is(err, persontoken.ErrMalformed) {
				t.Fatalf("malformed %x: %v", bad, err)
			}
		}
	}
}

func TestInputsRefuse(t *testing.T) {
	if _, err := persontoken.Inputs(persontoken.Person{Name: "1234 --"}); !errors.Is(err, personenc.ErrEmptyName) {
		t.Fatalf("no letters: %v", err)
	}
	if _, err := persontoken.Inputs(persontoken.Person{Name: "Olena", BirthYear: 1700}); !errors.Is(err, personenc.ErrInvalidBirthYear) {
		t.Fatalf("year: %v", err)
	}
	if _, err := persontoken.Inputs(persontoken.Person{Name: string(bytes.Repeat([]byte("a"), personenc.MaxNameBytes+1))}); !errors.Is(err, personenc.ErrNameTooLong) {
		t.Fatalf("long: %v", err)
	}
}

func TestSkeleton(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Olena Kovalenko", "kvlnk ln"},
		{"Olena Petrivna Kovalenko", "kvlnk ln"},
		{"Petrivna", "ptrvn"},
		// An initial h before a vowel, and a long word's initial vowel,
		// are dropped: spellings write them or leave them out.
		{"Hanna Bondarenko", "an bndrnk"},
		{"Anna Bondarenko", "an bndrnk"},
		{"Ekaterina Savchenko", "ktrn svSnk"},
		{"Kateryna Savchenko", "ktrn svSnk"},
		{"Ivan Ivanenko", "avn vnnk"},
	} {
		toks, err := personenc.Fold(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := persontoken.Skeleton(toks); got != tc.want {
			t.Errorf("%s: skeleton %q, want %q", tc.name, got, tc.want)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	k, _ := persontoken.GenerateKey(nil)
	in, _ := persontoken.Inputs(persontoken.Person{Name: "Olena Kovalenko", BirthYear: 1978})
	tok, _ := k.Tokens("k", in)
	f.Add(tok.Marshal())
	f.Add([]byte{2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := persontoken.Unmarshal("k", b)
		if err != nil {
			return
		}
		if !bytes.Equal(got.Marshal(), b) {
			t.Fatalf("re-marshal differs")
		}
	})
}

func TestLocalKey(t *testing.T) {
	if _, err := persontoken.NewLocalKey(make([]byte, 31)); !errors.Is(err, persontoken.ErrInvalidKey) {
		t.Fatalf("short secret: %v", err)
	}
	k, err := persontoken.NewLocalKey(bytes.Repeat([]byte("s"), 32))
	if err != nil {
		t.Fatal(err)
	}
	a := k.Tokens("offline", mustInput(t, "Olena Kovalenko", 1978))
	b := k.Tokens("offline", mustInput(t, "Елена Коваленко", 1979))
	if ag := persontoken.Compare(&a, &b); !ag.Name || ag.Year != persontoken.YearNear {
		t.Fatalf("local tokens: %+v", ag)
	}
	other, _ := persontoken.NewLocalKey(bytes.Repeat([]byte("t"), 32))
	c := other.Tokens("offline", mustInput(t, "Olena Kovalenko", 1978))
	if ag := persontoken.Compare(&a, &c); ag.Similar {
		t.Fatal("tokens of two local secrets agree")
	}
}

// FuzzEvaluate: whatever a member sends as blinded elements, the origin's
// evaluation returns an error or as many elements as it got, never panics.
func FuzzEvaluate(f *testing.F) {
	k, _ := persontoken.GenerateKey(nil)
	in, _ := persontoken.Inputs(persontoken.Person{Name: "Olena Kovalenko", BirthYear: 1978})
	req, _ := persontoken.NewRequest("k", k.Public(), []persontoken.Input{in})
	f.Add(bytes.Join(req.Elements, nil))
	f.Add(make([]byte, 64))
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		var elems [][]byte
		for len(b) >= persontoken.PublicKeySize && len(elems) < 64 {
			elems = append(elems, b[:persontoken.PublicKeySize])
			b = b[persontoken.PublicKeySize:]
		}
		if len(b) > 0 {
			elems = append(elems, b) // a short last element
		}
		ev, proof, err := k.Evaluate(elems)
		if err != nil {
			if !errors.Is(err, persontoken.ErrMalformed) && !errors.Is(err, persontoken.ErrTooMany) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(ev) != len(elems) || len(proof) == 0 {
			t.Fatalf("%d elements evaluated of %d", len(ev), len(elems))
		}
	})
}

// TestPairTokens: the origin's side (its own tokens evaluated by the
// comparing node) and the comparing node's side (its person's tokens
// evaluated by the origin, then its own key) meet; neither side can make a
// pair token alone.
func TestPairTokens(t *testing.T) {
	origin, comparer := mustKey(t), mustKey(t)
	pair := persontoken.PairKeyID("UA/ua-1#1", "PL/pl-1#1")
	if in, out, ok := persontoken.SplitPairKeyID(pair); !ok || in != "UA/ua-1#1" || out != "PL/pl-1#1" {
		t.Fatalf("split %q: %q %q %v", pair, in, out, ok)
	}
	// The origin's side: its own tokens, evaluated (with the years around)
	// by the comparing node.
	single, err := origin.Tokens("UA/ua-1#1", mustInput(t, "Олена Коваленко", 1978))
	if err != nil {
		t.Fatal(err)
	}
	req, err := persontoken.NewRequestWithNear(pair, comparer.Public(), []persontoken.Input{persontoken.OuterInputs(single)})
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Elements) != 5 {
		t.Fatalf("%d elements for a person with a year, want 5", len(req.Elements))
	}
	ev, proof, err := comparer.Evaluate(req.Elements)
	if err != nil {
		t.Fatal(err)
	}
	published, err := req.Finish(ev, proof)
	if err != nil {
		t.Fatal(err)
	}
	// The comparing node's side: its person's inner tokens from the
	// origin, then its own key.
	for _, tc := range []struct {
		name string
		year int
		want persontoken.YearRelation
	}{{"Olena Kovalenko", 1978, persontoken.YearSame}, {"Elena Kowalenko", 1979, persontoken.YearNear}} {
		inner := evaluate(t, origin, mustInput(t, tc.name, tc.year))[0]
		own, err := comparer.Tokens(pair, persontoken.OuterInputs(inner))
		if err != nil {
			t.Fatal(err)
		}
		if ag := persontoken.Compare(&published[0], &own); !ag.Name || ag.Year != tc.want {
			t.Errorf("%s %d: %+v", tc.name, tc.year, ag)
		}
	}
	// What the origin can make alone (its own key twice) matches nothing.
	alone, err := origin.Tokens(pair, persontoken.OuterInputs(single))
	if err != nil {
		t.Fatal(err)
	}
	if ag := persontoken.Compare(&published[0], &alone); ag.Similar {
		t.Fatal("the origin made a pair token without the comparing node")
	}
}

// TestEncodingKeyID: a member's shared record may carry only tokens its own
// key went into: its single key, or a pair whose inner key is its own.
func TestEncodingKeyID(t *testing.T) {
	for _, tc := range []struct {
		member, name string
		version      int
		want         string
	}{
		{"UA", "UA/ua-1", 2, "UA/ua-1#2"},
		{"UA", "UA/ua-1#2>PL/pl-1#1", 0, "UA/ua-1#2>PL/pl-1#1"},
		{"PL", "UA/ua-1", 2, ""},             // another member's key
		{"PL", "UA/ua-1#2>PL/pl-1#1", 0, ""}, // a pair with another member's inner key
		{"UA", "UA/ua-1#2>PL/pl-1#1", 3, ""}, // a pair names its versions itself
		{"UA", "UA/ua-1", 0, ""},             // no version
		{"UA", "UA/", 1, ""},
		{"UA", "UA/ua-1#2>pl-1", 0, ""},
		{"", "UA/ua-1", 1, ""},
	} {
		got, ok := persontoken.EncodingKeyID(tc.member, tc.name, tc.version)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("%s %q v%d: %q %v, want %q", tc.member, tc.name, tc.version, got, ok, tc.want)
		}
	}
}
