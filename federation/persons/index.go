package persons

import (
	"sync"

	"github.com/accordfed/accord/federation/persontoken"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Index holds the person tokens of the other members' shared cases this
// node holds, by key and skeleton token, for the register of interviewed
// persons. It holds tokens only: nothing in it is a name.
type Index struct {
	mu    sync.RWMutex
	cases map[string]*indexedCase                // case id
	bySk  map[string]map[persontoken.Token][]ref // key id -> skeleton -> persons
	// per member: cases and persons held
	nCases, nPersons map[string]int
}

type indexedCase struct {
	member  string
	persons []indexedPerson
}

type indexedPerson struct {
	role accordv1.PersonRole
	tok  persontoken.Tokens
}

type ref struct {
	c   *indexedCase
	id  string
	idx int
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{cases: map[string]*indexedCase{}, bySk: map[string]map[persontoken.Token][]ref{},
		nCases: map[string]int{}, nPersons: map[string]int{}}
}

// Put sets the persons of a shared case of member (replacing what the
// index held for it); tokens of keys not of member are left out, as are
// those that do not parse.
func (x *Index) Put(member string, sc *accordv1.SharedCase) {
	c := &indexedCase{member: member}
	for _, p := range sc.GetPersons() {
		// The register compares with the member's own tokens only (its
		// single key), never with pair tokens.
		id, ok := persontoken.EncodingKeyID(member, p.GetKeyName(), int(p.GetKeyVersion()))
		if _, _, pair := persontoken.SplitPairKeyID(id); !ok || pair || len(c.persons) >= persontoken.MaxPersonsPerCase {
			continue
		}
		t, err := persontoken.Unmarshal(id, p.GetEncoding())
		if err != nil {
			continue
		}
		c.persons = append(c.persons, indexedPerson{role: p.GetRole(), tok: t})
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(sc.GetCaseId())
	if len(c.persons) == 0 {
		return
	}
	x.cases[sc.GetCaseId()] = c
	x.nCases[member]++
	x.nPersons[member] += len(c.persons)
	for i, p := range c.persons {
		m := x.bySk[p.tok.Key]
		if m == nil {
			m = map[persontoken.Token][]ref{}
			x.bySk[p.tok.Key] = m
		}
		m[p.tok.Skel] = append(m[p.tok.Skel], ref{c: c, id: sc.GetCaseId(), idx: i})
	}
}

// Remove drops a case.
func (x *Index) Remove(caseID string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(caseID)
}

func (x *Index) removeLocked(caseID string) {
	c := x.cases[caseID]
	if c == nil {
		return
	}
	delete(x.cases, caseID)
	x.nCases[c.member]--
	x.nPersons[c.member] -= len(c.persons)
	type list struct {
		key  string
		skel persontoken.Token
	}
	done := map[list]bool{}
	for _, p := range c.persons {
		// Each list once, however many of the case's persons share it.
		l := list{p.tok.Key, p.tok.Skel}
		if done[l] {
			continue
		}
		done[l] = true
		m := x.bySk[p.tok.Key]
		refs := m[p.tok.Skel]
		out := refs[:0]
		for _, r := range refs {
			if r.c != c {
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			delete(m, p.tok.Skel)
		} else {
			m[p.tok.Skel] = out
		}
		if len(m) == 0 {
			delete(x.bySk, p.tok.Key)
		}
	}
}

// Len returns how many cases with persons the index holds.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.cases)
}

// Hit is one person of a case that agrees with a looked-up person.
type Hit struct {
	Member     string
	CaseID     string
	Role       accordv1.PersonRole
	Similarity accordv1.PersonSimilarity
}

// Find returns the persons of the cases whose tokens (of t's key) agree
// with t in a role of roles, at most one hit per case and role (the best).
func (x *Index) Find(t persontoken.Tokens, roles map[accordv1.PersonRole]bool) []Hit {
	x.mu.RLock()
	defer x.mu.RUnlock()
	type k struct {
		id   string
		role accordv1.PersonRole
	}
	best := map[k]Hit{}
	var order []k
	for _, r := range x.bySk[t.Key][t.Skel] {
		p := r.c.persons[r.idx]
		if !roles[p.role] {
			continue
		}
		sim := similarity(persontoken.Compare(&p.tok, &t))
		if sim == accordv1.PersonSimilarity_PERSON_SIMILARITY_UNSPECIFIED {
			continue
		}
		key := k{r.id, p.role}
		h, ok := best[key]
		if !ok {
			order = append(order, key)
		}
		if !ok || sim > h.Similarity {
			best[key] = Hit{Member: r.c.member, CaseID: r.id, Role: p.role, Similarity: sim}
		}
	}
	out := make([]Hit, 0, len(order))
	for _, key := range order {
		out = append(out, best[key])
	}
	return out
}

// similarity grades an agreement; unspecified when the persons do not
// agree (or their years are known to differ).
func similarity(a persontoken.Agreement) accordv1.PersonSimilarity {
	switch {
	case !a.Similar || a.Year == persontoken.YearDifferent:
		return accordv1.PersonSimilarity_PERSON_SIMILARITY_UNSPECIFIED
	case a.Name && a.Year == persontoken.YearSame:
		return accordv1.PersonSimilarity_PERSON_SIMILARITY_NAME_AND_YEAR
	case a.Name:
		return accordv1.PersonSimilarity_PERSON_SIMILARITY_NAME
	}
	return accordv1.PersonSimilarity_PERSON_SIMILARITY_SIMILAR
}

// CasesOf returns how many cases with persons of member the index holds.
func (x *Index) CasesOf(member string) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.nCases[member]
}

// PersonsOf returns how many persons the cases of member that the index
// holds list.
func (x *Index) PersonsOf(member string) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.nPersons[member]
}
