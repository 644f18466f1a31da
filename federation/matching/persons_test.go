package matching

import (
	"testing"

	"github.com/accordfed/accord/federation/persontoken"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// tokenKey is a test node's token key and its key id.
type tokenKey struct {
	k  *persontoken.Key
	id string
}

func newTokenKey(t *testing.T, keyName string) tokenKey {
	t.Helper()
	k, err := persontoken.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return tokenKey{k, persontoken.KeyID(keyName, 1)}
}

// own returns the origin's tokens (with the years below and above).
func (k tokenKey) own(t *testing.T, name string, year int) persontoken.Tokens {
	t.Helper()
	in, err := persontoken.Inputs(persontoken.Person{Name: name, BirthYear: year})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := k.k.Tokens(k.id, in)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// asked returns the tokens another member obtains from the key's node
// (blinded; no years below and above).
func (k tokenKey) asked(t *testing.T, name string, year int) persontoken.Tokens {
	t.Helper()
	in, err := persontoken.Inputs(persontoken.Person{Name: name, BirthYear: year})
	if err != nil {
		t.Fatal(err)
	}
	req, err := persontoken.NewRequest(k.id, k.k.Public(), []persontoken.Input{in})
	if err != nil {
		t.Fatal(err)
	}
	ev, proof, err := k.k.Evaluate(req.Elements)
	if err != nil {
		t.Fatal(err)
	}
	out, err := req.Finish(ev, proof)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func TestFromSharedOwnKeysOnly(t *testing.T) {
	ua := newTokenKey(t, "UA/ua-1")
	good := ua.own(t, "Olena Kovalenko", 1978)
	pe := func(keyName string, b []byte) *accordv1.PersonEncoding {
		return &accordv1.PersonEncoding{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, KeyName: keyName, KeyVersion: 1, Encoding: b}
	}
	s := &accordv1.SharedCase{
		CaseId:    "UA-2022-000001",
		Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00Z", Place: "Bucha"}},
		Persons: []*accordv1.PersonEncoding{
			pe("UA/ua-1", good.Marshal()),
			pe("PL/pl-1", good.Marshal()),  // another member's key
			pe("UA", good.Marshal()),       // no node name
			pe("UA/", good.Marshal()),      // empty node name
			pe("UAX/ua-1", good.Marshal()), // a member whose code starts with UA
			pe("UA/ua-1", []byte{2, 1, 3}), // malformed
			pe("UA/ua-1", nil),
		},
	}
	r, err := FromShared(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Persons) != 1 {
		t.Fatalf("%d persons kept, want 1", len(r.Persons))
	}
	if want := persontoken.KeyID("UA/ua-1", 1); r.Persons[0].Key != want {
		t.Fatalf("key %q, want %q", r.Persons[0].Key, want)
	}
	if ag := persontoken.Compare(&r.Persons[0], &good); !ag.Name || ag.Year != persontoken.YearSame {
		t.Fatalf("parsed tokens differ: %+v", ag)
	}
}

// personsLevel returns the persons level of two records.
func personsLevel(t *testing.T, a, b Record) (int8, int) {
	t.Helper()
	ca, err := compile(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := compile(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := DefaultModel().incidentWeight
	g, det := NewIndex(Config{}).comparer().compareRecs(ca, cb, w)
	g2, _ := NewIndex(Config{}).comparer().compareRecs(cb, ca, w)
	if g[fPersons] != g2[fPersons] {
		t.Fatalf("persons level not symmetric: %d, %d", g[fPersons], g2[fPersons])
	}
	return g[fPersons], det.personsMatch
}

func TestPersonsLevels(t *testing.T) {
	ua, pl := newTokenKey(t, "UA/ua-1"), newTokenKey(t, "PL/pl-1")
	s, e := day("2022-03-01T00:00:00Z", 10)
	rec := func(id string, ps ...persontoken.Tokens) Record {
		r := testRecord(id, "Bucha", 0, 0, s, e)
		r.Persons = ps
		return r
	}
	olena, mykola := "Olena Kovalenko", "Mykola Shevchenko"
	for _, tc := range []struct {
		name    string
		a, b    []persontoken.Tokens
		want    int8
		matched int
	}{
		{"two persons match", []persontoken.Tokens{ua.own(t, olena, 1978), ua.own(t, mykola, 0)},
			[]persontoken.Tokens{ua.asked(t, "Олена Коваленко", 1979), ua.asked(t, "Микола Шевченко", 1960)}, 0, 2},
		{"one person, same year", []persontoken.Tokens{ua.own(t, olena, 1978), ua.own(t, mykola, 1960)},
			[]persontoken.Tokens{ua.asked(t, "Elena Kowalenko", 1978)}, 1, 1},
		{"one person, near year (origin's tokens on the other side)", []persontoken.Tokens{ua.asked(t, olena, 1977)},
			[]persontoken.Tokens{ua.own(t, olena, 1978)}, 2, 1},
		{"one person, unknown year", []persontoken.Tokens{ua.own(t, olena, 0)},
			[]persontoken.Tokens{ua.asked(t, olena, 1978)}, 2, 1},
		{"same name, years far apart", []persontoken.Tokens{ua.own(t, olena, 1950)},
			[]persontoken.Tokens{ua.asked(t, olena, 1978)}, 4, 0},
		{"similar: a patronymic more", []persontoken.Tokens{ua.own(t, "Olena Petrivna Kovalenko", 1978)},
			[]persontoken.Tokens{ua.asked(t, olena, 1978)}, 3, 0},
		{"nothing in common", []persontoken.Tokens{ua.own(t, olena, 1978)},
			[]persontoken.Tokens{ua.asked(t, mykola, 1978)}, 4, 0},
		{"different keys: not comparable", []persontoken.Tokens{ua.own(t, olena, 1978)},
			[]persontoken.Tokens{pl.own(t, olena, 1978)}, -1, 0},
		{"no persons on one side", []persontoken.Tokens{ua.own(t, olena, 1978)}, nil, -1, 0},
		// A's own record: its own tokens and PL's tokens of the same
		// persons; B is PL's record: only PL's tokens are comparable.
		{"own and peer tokens against a peer's record",
			[]persontoken.Tokens{ua.own(t, olena, 1978), ua.own(t, mykola, 1960), pl.asked(t, olena, 1978), pl.asked(t, mykola, 1960)},
			[]persontoken.Tokens{pl.own(t, "Kowalenko Olena", 1978)}, 1, 1},
		// Two records that both hold both persons under two keys: two
		// persons, not four.
		{"several keys count each person once",
			[]persontoken.Tokens{ua.own(t, olena, 1978), pl.asked(t, olena, 1978)},
			[]persontoken.Tokens{pl.own(t, olena, 1978), ua.asked(t, olena, 1978)}, 1, 1},
		// One person listed twice on a side (victim and witness) is one
		// person.
		{"a person listed twice counts once", []persontoken.Tokens{ua.own(t, olena, 1978), ua.own(t, "Olena Kovalenko", 1978)},
			[]persontoken.Tokens{ua.asked(t, olena, 1978), ua.asked(t, mykola, 1960)}, 1, 1},
	} {
		got, matched := personsLevel(t, rec("UA-1", tc.a...), rec("PL-1", tc.b...))
		if got != tc.want || matched != tc.matched {
			t.Errorf("%s: level %d (%d matched), want %d (%d)", tc.name, got, matched, tc.want, tc.matched)
		}
	}
}

func TestOfflineTokensReproducible(t *testing.T) {
	a, ok := OfflineTokens()(persontoken.Person{Name: "Olena Kovalenko", BirthYear: 1978})
	if !ok {
		t.Fatal("no tokens")
	}
	b, ok := testTokens(persontoken.Person{Name: "Олена Коваленко", BirthYear: 1978})
	if !ok {
		t.Fatal("no tokens")
	}
	if a.Key != OfflineKeyID || a != b || !a.HasNear {
		t.Fatalf("offline tokens differ between two functions: %+v %+v", a, b)
	}
	if _, ok := testTokens(persontoken.Person{Name: "  ", BirthYear: 1978}); ok {
		t.Fatal("tokens of an empty name")
	}
}
