package persontoken_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/accordfed/accord/federation/personenc"
	"github.com/accordfed/accord/federation/persontoken"
)

// published is one of UA's person records as the attacker receives it:
// opaque bytes for the name and, when UA knows it, the birth year.
type published struct {
	name, year []byte // year nil: no birth year
}

// attackGuess is what an attack says about one published record.
type attackGuess struct {
	ok      bool   // the attacker names the person
	fold    string // the folded name it names
	year    int    // the birth year it names (0: none)
	viaEval bool   // the name came from a code the origin evaluated for the attacker
}

// knownPair is a person the attacker holds in clear together with the code
// it obtained for it under the origin's scheme.
type knownPair struct {
	fold           string
	year           int
	name, yearCode []byte
}

// dictionaryOracle is what the attacker can compute on its own (offline),
// and the pairs it obtained otherwise.
type dictionaryOracle struct {
	// name is the code the attacker computes for a name without a year.
	name func(c attackCandidate) ([]byte, error)
	// year is the code it computes for the birth year y of a person named c.
	year func(c attackCandidate, y int) ([]byte, error)
	// known are its own persons' codes under the origin's scheme.
	known []knownPair
}

// dictionaryAttack is the offline dictionary attack: compute the code of
// every name of the dictionary, look each published record up among them,
// then try every year for the records it named. Names and years are
// attacked separately (as many codes as names plus years, not names ×
// years), which the first design allows because its year tags do not
// depend on the name. Records that match one of the attacker's own persons
// are named too, marked viaEval.
func dictionaryAttack(targets []published, dict []attackCandidate, years []int, o dictionaryOracle) ([]attackGuess, error) {
	codes := make([][]byte, len(dict))
	errs := make([]error, len(dict))
	parallel(len(dict), func(i int) { codes[i], errs[i] = o.name(dict[i]) })
	table := map[string]int{}
	for i, c := range codes {
		if errs[i] != nil {
			return nil, errs[i]
		}
		table[string(c)] = i
	}
	known := map[string]knownPair{}
	for _, k := range o.known {
		known[string(k.name)] = k
	}
	out := make([]attackGuess, len(targets))
	for ti, t := range targets {
		if i, ok := table[string(t.name)]; ok {
			g := attackGuess{ok: true, fold: dict[i].Fold}
			if t.year != nil {
				for _, y := range years {
					code, err := o.year(dict[i], y)
					if err != nil {
						return nil, err
					}
					if bytes.Equal(code, t.year) {
						g.year = y
						break
					}
				}
			}
			out[ti] = g
			continue
		}
		if k, ok := known[string(t.name)]; ok {
			g := attackGuess{ok: true, fold: k.fold, viaEval: true}
			if t.year != nil && bytes.Equal(t.year, k.yearCode) {
				g.year = k.year
			}
			out[ti] = g
		}
	}
	return out, nil
}

// attackScore counts re-identifications: records whose exact folded name
// (and, for a record with a birth year, exact year: nameYear) the attacker
// names; false ones are named wrongly. Offline and via-evaluation guesses
// are counted apart.
type attackScore struct {
	n                        int
	name, nameYear, falseID  int // offline
	evalName, evalNameYear   int // through the origin's counted evaluations
	evalFalse, withYearTotal int
}

func scoreGuesses(truth []attackPerson, gs []attackGuess) attackScore {
	s := attackScore{n: len(truth)}
	for i, g := range gs {
		p := truth[i]
		if p.Year != 0 {
			s.withYearTotal++
		}
		if !g.ok {
			continue
		}
		right := g.fold == p.Fold
		yearRight := p.Year == 0 || g.year == p.Year
		switch {
		case !g.viaEval && right:
			s.name++
			if yearRight {
				s.nameYear++
			}
		case !g.viaEval:
			s.falseID++
		case right:
			s.evalName++
			if yearRight {
				s.evalNameYear++
			}
		default:
			s.evalFalse++
		}
	}
	return s
}

// oldDictionaryOracle: under the first design the attacker holds the
// federation key material (it is in its registry) and encodes what it
// likes; its own persons' encodings are simply its own.
func oldDictionaryOracle(w *attackWorld) dictionaryOracle {
	var mu sync.Mutex
	yearTags := map[int][]byte{}
	o := dictionaryOracle{
		name: func(c attackCandidate) ([]byte, error) {
			e, err := w.oldEnc.Encode(personenc.Person{Name: c.Raw})
			return e.Bits, err
		},
		// The year tags do not depend on the name: one encoding per year.
		year: func(_ attackCandidate, y int) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			if t, ok := yearTags[y]; ok {
				return t, nil
			}
			e, err := w.oldEnc.Encode(personenc.Person{Name: "x", BirthYear: y})
			if err != nil {
				return nil, err
			}
			yearTags[y] = e.YearTags[1][:]
			return yearTags[y], nil
		},
	}
	for i, p := range w.pl {
		e := w.plOld[i]
		o.known = append(o.known, knownPair{fold: p.Fold, year: p.Year, name: e.Bits, yearCode: e.YearTags[1][:]})
	}
	return o
}

func oldPublished(w *attackWorld) []published {
	out := make([]published, len(w.uaOld))
	for i, e := range w.uaOld {
		out[i].name = e.Bits
		if e.HasYear {
			out[i].year = e.YearTags[1][:]
		}
	}
	return out
}

// newDictionaryOracle: under this design the attacker holds its own key,
// UA's public key, UA's published tokens and the tokens UA evaluated for
// PL's own persons. The only token function it can evaluate offline is its
// own key's; UA's public key only verifies UA's proofs (computing UA's
// function from it is the one-more-gap Diffie–Hellman problem in
// ristretto255).
func newDictionaryOracle(w *attackWorld) dictionaryOracle {
	const id = "PL/node-1#1"
	tokens := func(c attackCandidate, y int) (persontoken.Tokens, error) {
		in, err := persontoken.Inputs(persontoken.Person{Name: c.Raw, BirthYear: y})
		if err != nil {
			return persontoken.Tokens{}, err
		}
		return w.plKey.Tokens(id, in)
	}
	o := dictionaryOracle{
		name: func(c attackCandidate) ([]byte, error) {
			t, err := tokens(c, 0)
			return t.Name[:], err
		},
		year: func(c attackCandidate, y int) ([]byte, error) {
			t, err := tokens(c, y)
			return t.Year[:], err
		},
	}
	for i, p := range w.plEval {
		t := w.plTok[i]
		k := knownPair{fold: p.Fold, year: p.Year, name: t.Name[:]}
		if t.HasYear {
			k.yearCode = t.Year[:]
		}
		o.known = append(o.known, k)
	}
	return o
}

func newPublished(w *attackWorld) []published {
	out := make([]published, len(w.uaTok))
	for i, t := range w.uaTok {
		out[i].name = t.Name[:]
		if t.HasYear {
			out[i].year = t.Year[:]
		}
	}
	return out
}

// TestAttackDictionary is attack 1 of docs/person-attacks.md: PL, with its
// own list of 150 first names × about 300 surnames (attackFirstNames,
// attackSurnames) and the years 1900–2025, tries to name UA's victims and
// witnesses offline.
func TestAttackDictionary(t *testing.T) {
	w := attackSetup(t)
	dict, err := attackDictionary()
	if err != nil {
		t.Fatal(err)
	}
	inDict := map[string]bool{}
	for _, c := range dict {
		inDict[c.Fold] = true
	}
	covered := 0
	for _, p := range w.ua {
		if inDict[p.Fold] {
			covered++
		}
	}
	t.Logf("UA publishes %d victims and witnesses (%d with a birth year); the dictionary has %d folded names "+
		"(%d first names × %d surnames, Cyrillic and national romanisation) and covers %.1f%% of UA's folded names",
		len(w.ua), countYears(w.ua), len(dict), len(attackFirstNames), len(attackSurnames), rate(covered, len(w.ua)))

	// First design.
	oldG, err := dictionaryAttack(oldPublished(w), dict, attackYears(), oldDictionaryOracle(w))
	if err != nil {
		t.Fatal(err)
	}
	old := scoreGuesses(w.ua, oldG)
	t.Logf("first design (personenc, federation key): offline re-identification name %.1f%%, name and year %.1f%% "+
		"(%d of %d), false %d", rate(old.name, old.n), rate(old.nameYear, old.n), old.nameYear, old.n, old.falseID)

	// This design. Only a dictionary name whose folded form UA holds could
	// give one of UA's tokens (any other would need a collision of 128-bit
	// PRF outputs), so to spare the VOPRF's time the attacker's own-key
	// tokens are computed for those names and 2,000 (500 under -short or
	// -race) of the others, not for all of them.
	held := map[string]bool{}
	for _, p := range w.ua {
		held[p.Fold] = true
	}
	others := 2000
	if testing.Short() || attackRace {
		others = 500
	}
	var sub []attackCandidate
	for _, c := range dict {
		if held[c.Fold] {
			sub = append(sub, c)
		} else if others > 0 {
			sub = append(sub, c)
			others--
		}
	}
	newG, err := dictionaryAttack(newPublished(w), sub, attackYears(), newDictionaryOracle(w))
	if err != nil {
		t.Fatal(err)
	}
	nw := scoreGuesses(w.ua, newG)
	t.Logf("this design (persontoken, own keys): offline re-identification name %.1f%%, name and year %.1f%% "+
		"(%d of %d), false %d; dictionary names tried %d",
		rate(nw.name, nw.n), rate(nw.nameYear, nw.n), nw.nameYear, nw.n, nw.falseID, len(sub))
	t.Logf("this design, by the matching itself: %.1f%% of UA's records (%d) have the folded name of one of the %d "+
		"PL persons UA evaluated for PL (%d also the year); each evaluation was one guess counted by UA, false %d",
		rate(nw.evalName, nw.n), nw.evalName, len(w.plEval), nw.evalNameYear, nw.evalFalse)

	if rate(old.nameYear, old.n) < 60 {
		t.Errorf("the dictionary attack names only %.1f%% of UA's persons on the first design: the attack code is broken",
			rate(old.nameYear, old.n))
	}
	if old.falseID != 0 {
		t.Errorf("first design: %d false re-identifications from exact filter equality", old.falseID)
	}
	if nw.name != 0 || nw.falseID != 0 {
		t.Errorf("this design: the attacker reproduced UA's tokens offline for %d persons (%d false)", nw.name, nw.falseID)
	}
	if nw.evalFalse != 0 {
		t.Errorf("this design: %d evaluated tokens name a different folded name", nw.evalFalse)
	}
}

func countYears(ps []attackPerson) int {
	n := 0
	for _, p := range ps {
		if p.Year != 0 {
			n++
		}
	}
	return n
}
