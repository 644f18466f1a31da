package persons_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/persons"
	"github.com/accordfed/accord/federation/persontoken"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

var logger = slog.New(slog.NewTextHandler(io.Discard, nil))

func node(member, name string) identity.Identity {
	return identity.Identity{Federation: "accord.test", Member: member, Kind: identity.KindNode, Name: name}
}

type fakeDir struct {
	admitted map[string]bool
	persons  map[string]int
}

func (d fakeDir) NodeAdmitted(id identity.Identity) bool { return d.admitted[id.Member] }
func (d fakeDir) SharedPersons(m string) int             { return d.persons[m] }

type events struct {
	mu sync.Mutex
	e  []persons.Event
}

func (e *events) Audit(ev persons.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.e = append(e.e, ev)
}

func (e *events) last() persons.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.e[len(e.e)-1]
}

func TestKeyRing(t *testing.T) {
	dir := t.TempDir()
	r, err := persons.OpenKeyRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, k := r.Current()
	if v != 1 || k == nil {
		t.Fatalf("first key: version %d", v)
	}
	fi, err := os.Stat(filepath.Join(dir, persons.KeyDir, "v1.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if v2, err := r.Rotate(); err != nil || v2 != 2 {
		t.Fatalf("rotate: %d %v", v2, err)
	}
	if err := r.Drop(2); err == nil {
		t.Fatal("dropped the current key")
	}
	again, err := persons.OpenKeyRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Versions(); len(got) != 2 || got[1] != 2 {
		t.Fatalf("reopened versions %v", got)
	}
	k1, _ := r.Key(1)
	k1b, _ := again.Key(1)
	if string(k1.Public()) != string(k1b.Public()) {
		t.Fatal("reopened key differs")
	}
	if err := again.Drop(1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, persons.KeyDir, "v1.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dropped key file still there: %v", err)
	}
}

func newService(t *testing.T, b persons.Budgets, now func() time.Time) (*persons.Service, *persons.KeyRing, *events) {
	t.Helper()
	r, err := persons.OpenKeyRing(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	s := persons.NewService(node("UA", "ua-1"), r, fakeDir{admitted: map[string]bool{"UA": true, "PL": true}, persons: map[string]int{"PL": 10}}, ev, b, now, logger)
	return s, r, ev
}

func blinded(t *testing.T, pub []byte, n int) [][]byte {
	t.Helper()
	ins := make([]persontoken.Input, n)
	for i := range ins {
		in, err := persontoken.Inputs(persontoken.Person{Name: "Olena Kovalenko"})
		if err != nil {
			t.Fatal(err)
		}
		ins[i] = in
	}
	req, err := persontoken.NewRequest("k", pub, ins)
	if err != nil {
		t.Fatal(err)
	}
	return req.Elements
}

func TestServiceBudgetsAndRefusals(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	s, r, ev := newService(t, persons.Budgets{Window: time.Hour, MatchingFloor: 10, MatchingPerPerson: 1, LookupPerMember: 100, LookupPerUser: 6}, clock)
	_, k := r.Current()
	pl := identity.NewContext(context.Background(), node("PL", "pl-1"))
	matching := func(n int) error {
		_, err := s.EvaluatePersons(pl, &accordv1.EvaluatePersonsRequest{KeyVersion: 1, Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, Elements: blinded(t, k.Public(), n)})
		return err
	}
	// Budget: floor 10 + 1 per PL person held (10) = 20 elements (two per
	// person without a year).
	if err := matching(8); err != nil { // 16 elements
		t.Fatal(err)
	}
	if e := ev.last(); e.Kind != persons.Evaluated || e.Records != 16 || e.Reason != "matching" || e.Who.Member != "PL" {
		t.Fatalf("audit %+v", e)
	}
	if err := matching(3); !errors.Is(err, persons.ErrBudget) {
		t.Fatalf("beyond the budget: %v", err)
	}
	if e := ev.last(); e.Reason != "budget_exhausted" {
		t.Fatalf("refusal audited as %+v", e)
	}
	// It refills evenly: after half the window, 10 more.
	now = now.Add(30 * time.Minute)
	if err := matching(5); err != nil {
		t.Fatalf("after refilling: %v", err)
	}

	// Lookups: per user.
	lookup := func(user string, n int) error {
		_, err := s.EvaluatePersons(pl, &accordv1.EvaluatePersonsRequest{KeyVersion: 1, Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_LOOKUP,
			User: user, LookupId: "lk-1", Elements: blinded(t, k.Public(), n)})
		return err
	}
	if err := lookup("analyst", 3); err != nil {
		t.Fatal(err)
	}
	if e := ev.last(); e.Who.Kind != identity.KindUser || e.Who.Name != "analyst" || e.LookupID != "lk-1" || e.Reason != "lookup" {
		t.Fatalf("lookup audit %+v", e)
	}
	if err := lookup("analyst", 1); !errors.Is(err, persons.ErrBudget) {
		t.Fatalf("analyst beyond 6: %v", err)
	}
	if err := lookup("prosecutor", 3); err != nil {
		t.Fatalf("another user: %v", err)
	}

	// Refusals name the field.
	for name, req := range map[string]*accordv1.EvaluatePersonsRequest{
		"no elements":    {KeyVersion: 1, Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING},
		"short element":  {KeyVersion: 1, Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, Elements: [][]byte{{1}}},
		"no purpose":     {KeyVersion: 1, Elements: blinded(t, k.Public(), 1)},
		"lookup no user": {KeyVersion: 1, Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_LOOKUP, LookupId: "x", Elements: blinded(t, k.Public(), 1)},
		"bad lookup id":  {KeyVersion: 1, Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_LOOKUP, User: "a", LookupId: "a b", Elements: blinded(t, k.Public(), 1)},
		"matching user":  {KeyVersion: 1, Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, User: "a", Elements: blinded(t, k.Public(), 1)},
	} {
		if _, err := s.EvaluatePersons(pl, req); !errors.Is(err, persons.ErrRequest) {
			t.Errorf("%s: %v, want ErrRequest", name, err)
		}
	}
	if _, err := s.EvaluatePersons(pl, &accordv1.EvaluatePersonsRequest{KeyVersion: 7, Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, Elements: blinded(t, k.Public(), 1)}); !errors.Is(err, persons.ErrUnknownKey) {
		t.Errorf("unknown version: %v", err)
	}
	// Only other admitted members' nodes.
	for _, id := range []identity.Identity{node("UA", "ua-2"), node("RU", "ru-1"), {Federation: "accord.test", Member: "PL", Kind: identity.KindUser, Name: "analyst"}} {
		if _, err := s.EvaluatePersons(identity.NewContext(context.Background(), id), &accordv1.EvaluatePersonsRequest{KeyVersion: 1,
			Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, Elements: blinded(t, k.Public(), 1)}); !errors.Is(err, persons.ErrNotMember) {
			t.Errorf("%s: %v, want ErrNotMember", id, err)
		}
	}
}

func TestIndexFind(t *testing.T) {
	k, err := persontoken.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(name string, year int) *accordv1.PersonEncoding {
		in, _ := persontoken.Inputs(persontoken.Person{Name: name, BirthYear: year})
		tok, _ := k.Tokens(persontoken.KeyID("UA/ua-1", 1), in)
		return &accordv1.PersonEncoding{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, KeyName: "UA/ua-1", KeyVersion: 1, Encoding: tok.Marshal()}
	}
	x := persons.NewIndex()
	x.Put("UA", &accordv1.SharedCase{CaseId: "UA-1", Persons: []*accordv1.PersonEncoding{enc("Olena Kovalenko", 1978), enc("Taras Shevchenko", 0)}})
	x.Put("UA", &accordv1.SharedCase{CaseId: "UA-2", Persons: []*accordv1.PersonEncoding{enc("Olena Petrivna Kovalenko", 1979)}})
	// A member cannot put tokens of another member's key in its cases.
	x.Put("PL", &accordv1.SharedCase{CaseId: "PL-1", Persons: []*accordv1.PersonEncoding{enc("Olena Kovalenko", 1978)}})
	if x.CasesOf("UA") != 2 || x.PersonsOf("UA") != 3 || x.CasesOf("PL") != 0 {
		t.Fatalf("counts %d %d %d", x.CasesOf("UA"), x.PersonsOf("UA"), x.CasesOf("PL"))
	}
	in, _ := persontoken.Inputs(persontoken.Person{Name: "Олена Коваленко", BirthYear: 1978})
	asked := evaluate(t, k, in)
	roles := map[accordv1.PersonRole]bool{accordv1.PersonRole_PERSON_ROLE_VICTIM: true}
	hits := x.Find(asked, roles)
	if len(hits) != 2 || hits[0].CaseID == hits[1].CaseID {
		t.Fatalf("hits %+v", hits)
	}
	for _, h := range hits {
		want := map[string]accordv1.PersonSimilarity{"UA-1": accordv1.PersonSimilarity_PERSON_SIMILARITY_NAME_AND_YEAR, "UA-2": accordv1.PersonSimilarity_PERSON_SIMILARITY_SIMILAR}[h.CaseID]
		if h.Similarity != want {
			t.Errorf("%s: %v, want %v", h.CaseID, h.Similarity, want)
		}
	}
	if hits := x.Find(asked, map[accordv1.PersonRole]bool{accordv1.PersonRole_PERSON_ROLE_WITNESS: true}); len(hits) != 0 {
		t.Fatalf("role filter: %+v", hits)
	}
	x.Remove("UA-1")
	if hits := x.Find(asked, roles); len(hits) != 1 || hits[0].CaseID != "UA-2" {
		t.Fatalf("after removal %+v", hits)
	}
	if x.PersonsOf("UA") != 1 {
		t.Fatalf("persons after removal %d", x.PersonsOf("UA"))
	}
}

func evaluate(t *testing.T, k *persontoken.Key, in persontoken.Input) persontoken.Tokens {
	t.Helper()
	req, err := persontoken.NewRequest(persontoken.KeyID("UA/ua-1", 1), k.Public(), []persontoken.Input{in})
	if err != nil {
		t.Fatal(err)
	}
	ev, proof, err := k.Evaluate(req.Elements)
	if err != nil {
		t.Fatal(err)
	}
	out, err := req.Finish(ev, proof)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// TestIndexReplaceSharedSkeleton: a case whose persons share one skeleton
// is replaced and removed whole (each list is cleaned once).
func TestIndexReplaceSharedSkeleton(t *testing.T) {
	k, err := persontoken.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := persontoken.Inputs(persontoken.Person{Name: "Olena Kovalenko", BirthYear: 1978})
	tok, _ := k.Tokens(persontoken.KeyID("UA/ua-1", 1), in)
	enc := &accordv1.PersonEncoding{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, KeyName: "UA/ua-1", KeyVersion: 1, Encoding: tok.Marshal()}
	many := make([]*accordv1.PersonEncoding, persontoken.MaxPersonsPerCase+10)
	for i := range many {
		many[i] = enc
	}
	x := persons.NewIndex()
	x.Put("UA", &accordv1.SharedCase{CaseId: "UA-1", Persons: many})
	x.Put("UA", &accordv1.SharedCase{CaseId: "UA-2", Persons: many[:2]})
	if got := x.PersonsOf("UA"); got != persontoken.MaxPersonsPerCase+2 {
		t.Fatalf("%d persons, want %d (a case counts at most %d)", got, persontoken.MaxPersonsPerCase+2, persontoken.MaxPersonsPerCase)
	}
	x.Put("UA", &accordv1.SharedCase{CaseId: "UA-1", Persons: many[:1]})
	x.Remove("UA-2")
	asked := evaluate(t, k, in)
	hits := x.Find(asked, map[accordv1.PersonRole]bool{accordv1.PersonRole_PERSON_ROLE_VICTIM: true})
	if len(hits) != 1 || hits[0].CaseID != "UA-1" || x.PersonsOf("UA") != 1 {
		t.Fatalf("hits %+v, persons %d", hits, x.PersonsOf("UA"))
	}
}
