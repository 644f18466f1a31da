package persontoken_test

import (
	"cmp"
	"slices"
	"testing"

	"github.com/accordfed/accord/node/casegen"
)

// frequencyAttack needs no key: it groups the published codes that are
// equal, ranks the groups by size and gives the i-th largest group the
// i-th most frequent folded name of the attacker's expected distribution
// (Kuzu, Kantarcioglu, Durham, Malin 2011, on whole encodings). Ties are
// broken by first appearance, and by name in the distribution.
func frequencyAttack(codes [][]byte, expected []string) []attackGuess {
	type group struct {
		first, n int
		members  []int
	}
	byCode := map[string]*group{}
	var groups []*group
	for i, c := range codes {
		g, ok := byCode[string(c)]
		if !ok {
			g = &group{first: i}
			byCode[string(c)] = g
			groups = append(groups, g)
		}
		g.n++
		g.members = append(g.members, i)
	}
	slices.SortStableFunc(groups, func(a, b *group) int { return cmp.Compare(b.n, a.n) })
	out := make([]attackGuess, len(codes))
	for rank, g := range groups {
		if rank >= len(expected) {
			break
		}
		for _, i := range g.members {
			out[i] = attackGuess{ok: true, fold: expected[rank]}
		}
	}
	return out
}

// expectedNames is the attacker's model of UA's names: the generator's own
// distribution of folded names (the strongest assumption), estimated from
// the victims and witnesses UA records in another federation of the same
// generator (another seed, 8,000 incidents), most frequent first.
func expectedNames() ([]string, map[string]int, error) {
	ps, err := victimsAndWitnesses(casegen.FederationOptions{Members: attackMembers, Incidents: 8000, Seed: 7}, "UA")
	if err != nil {
		return nil, nil, err
	}
	count := map[string]int{}
	for _, p := range ps {
		count[p.Fold]++
	}
	var names []string
	for n := range count {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b))
	})
	return names, count, nil
}

// TestAttackFrequency is attack 3 of docs/person-attacks.md: PL ranks what
// UA publishes by frequency, without any key.
//
// Both designs are deterministic in the folded name (that is what lets
// offices compare at all): equal filters and equal name tokens both mean
// equal folded names, so the attack forms the same groups on both and
// names exactly the same persons. The new design cannot do better here in
// principle; what it changes is only that PL cannot confirm a guess
// offline. The attack is weak on the generator's data because its names are
// drawn uniformly (30 + 30 first names × 58 surnames: about 3,500 full
// names of nearly equal frequency), so the largest groups carry no
// information; real name distributions are skewed (a few surnames carry
// percents of the population), and the most frequent full names would then
// be named. The bound asserted below (at most 2 %) is the measured rate
// (about 0.1–0.2 % for these seeds) with a wide margin; see
// docs/person-attacks.md.
func TestAttackFrequency(t *testing.T) {
	w := attackSetup(t)
	expected, count, err := expectedNames()
	if err != nil {
		t.Fatal(err)
	}
	var oldCodes, newCodes [][]byte
	for i := range w.ua {
		oldCodes = append(oldCodes, w.uaOld[i].Bits)
		newCodes = append(newCodes, w.uaTok[i].Name[:])
	}
	old := scoreGuesses(w.ua, frequencyAttack(oldCodes, expected))
	nw := scoreGuesses(w.ua, frequencyAttack(newCodes, expected))
	distinct := map[string]bool{}
	for _, p := range w.ua {
		distinct[p.Fold] = true
	}
	t.Logf("UA's %d records hold %d distinct folded names; the attacker's model has %d (most frequent %q: %d of its sample)",
		len(w.ua), len(distinct), len(expected), expected[0], count[expected[0]])
	t.Logf("first design: frequency attack names %.2f%% (%d of %d), false %d",
		rate(old.name, old.n), old.name, old.n, old.falseID)
	t.Logf("this design: frequency attack names %.2f%% (%d of %d), false %d",
		rate(nw.name, nw.n), nw.name, nw.n, nw.falseID)
	if old.name != nw.name {
		t.Errorf("the designs group UA's records differently: %d and %d named", old.name, nw.name)
	}
	if rate(nw.name, nw.n) > 2 {
		t.Errorf("this design: frequency attack names %.2f%%, above the 2%% bound measured", rate(nw.name, nw.n))
	}
}
